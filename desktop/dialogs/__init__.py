"""The app's dialogs: reviewer, export, settings, about (with the model card) and the shortcut help."""
