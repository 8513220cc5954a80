"""Common emoji mapped to the 28 GoEmotions labels: a sticker's intent when no image model is installed.

Telegram, Signal and WhatsApp packs attach an emoji to each sticker; that emoji is what the pack author
meant, so it is a fair intent label. The table covers the emoji packs use most; `intent_for_emoji`
ignores variation selectors and skin tones and takes the first emoji it knows in a string.
"""

from __future__ import annotations

EMOJI_INTENTS: dict[str, str] = {
    # joy / amusement
    "😀": "joy", "😃": "joy", "😄": "joy", "😁": "joy", "😊": "joy", "🙂": "joy", "☺": "joy", "🥳": "joy",
    "😆": "amusement", "😂": "amusement", "🤣": "amusement", "😹": "amusement", "😜": "amusement",
    "😝": "amusement", "😛": "amusement", "🤪": "amusement", "😅": "nervousness",
    # love / caring / admiration
    "😍": "love", "🥰": "love", "😘": "love", "😻": "love", "❤": "love", "💕": "love", "💖": "love",
    "💗": "love", "💘": "love", "💞": "love", "😚": "love", "😙": "love", "💋": "love", "🫶": "love",
    "🤗": "caring", "🫂": "caring", "💐": "caring", "🩹": "caring",
    "🤩": "admiration", "😎": "pride", "👏": "admiration", "🙌": "excitement", "🔥": "admiration",
    "💯": "approval", "👍": "approval", "👌": "approval", "✅": "approval", "🆗": "approval", "🤝": "approval",
    # gratitude / optimism / relief
    "🙏": "gratitude", "🌹": "gratitude", "🤞": "optimism", "✨": "optimism", "🌈": "optimism",
    "💪": "optimism", "😌": "relief", "😮‍💨": "relief", "😇": "relief",
    # excitement / desire / curiosity
    "🎉": "excitement", "🎊": "excitement", "🤤": "desire", "😋": "desire", "🤑": "desire",
    "🤔": "curiosity", "🧐": "curiosity", "👀": "curiosity",
    # surprise / realization / confusion
    "😮": "surprise", "😯": "surprise", "😲": "surprise", "😱": "fear", "🙀": "surprise", "🤯": "realization",
    "💡": "realization", "❗": "realization", "😳": "embarrassment", "😕": "confusion", "🤨": "confusion",
    "❓": "confusion", "😵": "confusion", "😵‍💫": "confusion", "🥴": "confusion",
    # sadness / grief / disappointment / remorse
    "😢": "sadness", "😭": "sadness", "😿": "sadness", "🥺": "sadness", "😞": "disappointment",
    "😔": "disappointment", "😟": "nervousness", "🙁": "sadness", "☹": "sadness", "💔": "grief",
    "🥀": "grief", "😥": "disappointment", "😓": "disappointment", "😩": "disappointment",
    "😫": "disappointment", "🙇": "remorse", "😣": "remorse", "😖": "remorse",
    # anger / annoyance / disapproval / disgust
    "😠": "anger", "😡": "anger", "🤬": "anger", "👿": "anger", "💢": "anger", "😤": "annoyance",
    "🙄": "annoyance", "😒": "annoyance", "😑": "annoyance", "👎": "disapproval", "🙅": "disapproval",
    "❌": "disapproval", "🚫": "disapproval", "🤮": "disgust", "🤢": "disgust", "💩": "disgust",
    # fear / nervousness / embarrassment
    "😨": "fear", "😰": "nervousness", "😬": "nervousness", "😧": "fear", "👻": "fear",
    "🫣": "embarrassment", "🙈": "embarrassment", "😶": "neutral", "😐": "neutral", "🫤": "neutral",
    # neutral-ish and greetings
    "👋": "neutral", "😴": "neutral", "💤": "neutral", "🥱": "neutral", "🤷": "neutral", "😏": "amusement",
    "🤭": "amusement", "😉": "amusement",
}

_IGNORED = {"\ufe0f", "\ufe0e", "\u200d"} | {chr(c) for c in range(0x1F3FB, 0x1F400)}  # VS, ZWJ, skin tones


def intent_for_emoji(emoji: str | None) -> str | None:
    """The GoEmotions label for an emoji string, or None when none of its emoji is in the table."""
    if not emoji:
        return None
    if emoji in EMOJI_INTENTS:
        return EMOJI_INTENTS[emoji]
    bare = "".join(c for c in emoji if c not in _IGNORED)
    if bare in EMOJI_INTENTS:
        return EMOJI_INTENTS[bare]
    for c in bare:
        if c in EMOJI_INTENTS:
            return EMOJI_INTENTS[c]
    return None
