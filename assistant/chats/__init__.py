"""chats package of the Sticker Assistant core (no Qt here)."""
