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
say welcome "Bonjour, bienvenue sur le service de démonstration."
say menu "Pour une question générale, tapez 1. Pour parler à un expert, tapez 2. Pour écouter nos informations, tapez 3. Pour réécouter ce message, tapez 0."
say info "Nos conseillers vous répondent du lundi au vendredi, de 9 heures à 16 heures 30. Retrouvez toutes nos informations sur notre site internet. Au revoir."
say closed "Nos services sont actuellement fermés. Nous vous accueillons du lundi au vendredi, de 9 heures à 16 heures 30, sauf jours fériés."
say wait "Tous nos conseillers sont en ligne. Merci de patienter, nous allons répondre à votre appel."
say saturation "En raison d'un nombre important d'appels, le temps d'attente est plus long que d'habitude. Merci de votre patience."
say postcode "Merci de saisir votre code postal sur le clavier de votre téléphone, puis la touche dièse."
say survey "Avez-vous obtenu une réponse à votre question ? Tapez 1 pour oui, 2 pour non."
say thanks "Merci de votre appel. Au revoir."
