"""The zero-shot label sets the IGSR paper describes stickers with, and the prompts CLIP reads them through.

Each set is scored on its own (softmax over that set's prompts), so a sticker gets one facial
expression, one gesture, one posture, one style, one subject kind and one intent, each with a
confidence. Intents are the 28 GoEmotions labels, shipped as a plain list in
`assistant/resources/labels/goemotions.txt` (the label names only, not the dataset).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def goemotions() -> tuple[str, ...]:
    """The 28 GoEmotions labels, in the dataset's order (index = the dataset's label id)."""
    text = resources.files("assistant.resources").joinpath("labels/goemotions.txt").read_text("utf-8")
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    assert len(labels) == 28, f"goemotions.txt should list 28 labels, found {len(labels)}"
    return labels


EXPRESSION = ("happy", "laughing", "smiling", "sad", "crying", "angry", "surprised", "scared", "disgusted",
              "confused", "embarrassed", "sleepy", "bored", "in love", "smug", "neutral")
GESTURE = ("waving", "thumbs up", "making a heart with hands", "clapping", "pointing", "facepalming",
           "hugging", "shrugging", "making an OK sign", "making a peace sign", "praying", "saluting",
           "covering the face", "no hand gesture")
POSTURE = ("standing", "sitting", "lying down", "running", "jumping", "dancing", "hiding", "bowing",
           "only a face visible")
STYLE = ("cartoon", "real", "text")
SUBJECT = ("animal", "human-like", "people", "emoji", "other")

# Prompt templates: CLIP matches captions, so each label is read inside a short caption.
_PROMPTS = {
    "expression": "a sticker of a {} face",
    "gesture": "a sticker of a character {}",
    "posture": "a sticker of a character {}",
    "style": {"cartoon": "a cartoon drawing sticker", "real": "a real photo of a person or animal",
              "text": "a sticker with only text on it"},
    "subject": {"animal": "a sticker of an animal", "human-like": "a sticker of a human-like cartoon character",
                "people": "a photo of real people", "emoji": "an emoji face",
                "other": "a sticker of an object or a scene"},
    "intent": "a sticker that expresses {}",
}


def label_sets() -> dict[str, tuple[str, ...]]:
    """Set name -> labels. Stored under these names in stickers.attrs."""
    return {"expression": EXPRESSION, "gesture": GESTURE, "posture": POSTURE, "style": STYLE,
            "subject": SUBJECT, "intent": goemotions()}


def prompts(set_name: str) -> list[str]:
    """The captions CLIP scores for one label set, in the order of its labels."""
    template = _PROMPTS[set_name]
    labels = label_sets()[set_name]
    if isinstance(template, dict):
        return [template[label] for label in labels]
    return [template.format(label) for label in labels]
