"""The deployment artefacts in deploy/, run for real (nginx in front of waitress)."""
