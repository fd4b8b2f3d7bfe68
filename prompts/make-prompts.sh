#!/usr/bin/env bash
# Regenerate the shipped demo prompts (French, espeak-ng voice, 8 kHz mono
# 16-bit WAV). Needs: apt-get install espeak-ng sox
set -euo pipefail
cd "$(dirname "$0")"
say() { # name text
  espeak-ng -v fr -s 150 -w "/tmp/$1.raw.wav" "$2"
  sox "/tmp/$1.raw.wav" -r 8000 -c 1 -b 16 "$1.wav" norm -3
  rm -f "/tmp/$1.raw.wav"
}
piece() { # name text: a piece of a composed announcement, silences trimmed
  espeak-ng -v fr -s "${SPEED:-150}" -w "/tmp/$1.raw.wav" "$2"
  sox -D "/tmp/$1.raw.wav" -r 8000 -c 1 -b 16 "$1.wav" \
    silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse pad 0.02 "${TAIL:-0.12}" norm -3
  rm -f "/tmp/$1.raw.wav"
}
say welcome "Bonjour, bienvenue sur le service de démonstration."
say menu "Pour une question générale, tapez 1. Pour parler à un expert, tapez 2. Pour écouter nos informations, tapez 3. Pour réécouter ce message, tapez 0."
say info "Nos conseillers vous répondent du lundi au vendredi, de 9 heures à 16 heures 30. Retrouvez toutes nos informations sur notre site internet. Au revoir."
say closed "Nos services sont actuellement fermés. Nous vous accueillons du lundi au vendredi, de 9 heures à 16 heures 30, sauf jours fériés."
say wait "Tous nos conseillers sont en ligne. Merci de patienter, nous allons répondre à votre appel."
say saturation "En raison d'un nombre important d'appels, le temps d'attente est plus long que d'habitude. Merci de votre patience."
say postcode "Merci de saisir votre code postal sur le clavier de votre téléphone, puis la touche dièse."
say survey "Avez-vous obtenu une réponse à votre question ? Tapez 1 pour oui, 2 pour non."
say thanks "Merci de votre appel. Au revoir."

# Position and estimated-wait announcements of the queue node, composed from
# pieces: "position" n<N> | "position_many", then "ewt" and
# "less_than_minute" | n<N>[f] "minute(s)" | "more_than" n<MAX>[f] "minutes".
piece position "Vous êtes en position"
piece position_many "De nombreux appels sont en attente avant le vôtre."
piece ewt "Le temps d'attente estimé est de"
piece less_than_minute "moins d'une minute."
piece more_than "plus de"
piece minute "minute."
piece minutes "minutes."
# Numbers 1-99 (masculine, for positions; under 1 s each), and the feminine
# forms minutes need ("une minute", "vingt et une minutes").
for n in $(seq 1 99); do SPEED=190 TAIL=0.06 piece "n$n" "$n"; done
for f in "1 une" "21 vingt et une" "31 trente et une" "41 quarante et une" \
  "51 cinquante et une" "61 soixante et une" "81 quatre-vingt-une"; do
  SPEED=190 TAIL=0.06 piece "n${f%% *}f" "${f#* }"
done
