"""Managing the library: search and filter, tags, attribute edits, favourite, hide, delete, export,
near-duplicate groups and merging. Every change that alters a sticker's text side or its flags is
pushed to the index in the same call, so Chroma never lags the catalog.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from assistant.domain import Sticker
from assistant.library import files, index
from assistant.library.catalog import _STICKER_SELECT, row_to_sticker, sticker_file
from assistant.library.ingest import preview_path, thumb_path
from assistant.memory.bank import STICKER_IMAGES

# Fields `set_attribute` may edit: catalog columns, and label sets kept in stickers.attrs.
COLUMN_FIELDS = {"ocr_text", "description", "intent", "style", "emoji", "pack"}
ATTR_FIELDS = {"expression", "gesture", "posture", "subject"}


class LibraryError(ValueError):
    """A management request that cannot be done (unknown sticker, unknown field); str() says why."""


# --- search --------------------------------------------------------------------------------------
def search(app, query: str | None = None, *, pack: str | None = None, tag: str | None = None,
           emoji: str | None = None, intent: str | None = None, style: str | None = None,
           favourite: bool | None = None, used: bool | None = None, hidden: bool | None = False,
           limit: int = 100, offset: int = 0) -> list[Sticker]:
    """Stickers matching every filter. `query` words must each appear in the words on the sticker,
    its tags, description, pack or emoji; with CLIP installed, stickers whose image matches the query
    follow the word matches. hidden=False (default) leaves hidden stickers out, True lists only them,
    None lists both."""
    where, args = _filters(pack, tag, emoji, intent, style, favourite, used, hidden)
    word_where, word_args = list(where), list(args)
    for word in (query or "").split():
        like = f"%{_escape(word)}%"
        word_where.append(
            "(s.ocr_text LIKE ? ESCAPE '\\' OR s.description LIKE ? ESCAPE '\\' OR s.pack LIKE ? ESCAPE '\\' "
            "OR s.emoji LIKE ? ESCAPE '\\' OR s.intent LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM "
            "sticker_tags t WHERE t.sticker_id=s.id AND t.tag LIKE ? ESCAPE '\\'))")
        word_args.extend([like] * 6)
    sql = _STICKER_SELECT + (" WHERE " + " AND ".join(word_where) if word_where else "")
    conn = app.catalog.conn
    want = offset + limit
    rows = conn.execute(sql + " ORDER BY s.favourite DESC, s.id LIMIT ?", [*word_args, want]).fetchall()
    out = [row_to_sticker(r, app.config.stickers_dir) for r in rows]
    if query and query.strip() and len(out) < want and app.clip is not None:
        out.extend(_image_matches(app, query, where, args, {s.id for s in out}, want - len(out)))
    return out[offset:offset + limit]


def _image_matches(app, query: str, where: list[str], args: list, exclude: set[int], k: int) -> list[Sticker]:
    """Text→image through CLIP, then the same SQL filters over the hits, in similarity order."""
    vec = app.clip.encode_texts([query])[0]
    hits = app.bank.query(STICKER_IMAGES, vec, k=k + len(exclude) + 20)
    ids = [int(h.id) for h in hits if int(h.id) not in exclude]
    if not ids:
        return []
    sql = _STICKER_SELECT + " WHERE " + " AND ".join([*where, f"s.id IN ({','.join('?' * len(ids))})"])
    rows = {r["id"]: r for r in app.catalog.conn.execute(sql, [*args, *ids])}
    return [row_to_sticker(rows[i], app.config.stickers_dir) for i in ids if i in rows][:k]


def _filters(pack, tag, emoji, intent, style, favourite, used, hidden) -> tuple[list[str], list]:
    where: list[str] = []
    args: list = []
    if pack is not None:
        where.append("s.pack = ?")
        args.append(pack)
    if tag is not None:
        where.append("EXISTS (SELECT 1 FROM sticker_tags t WHERE t.sticker_id=s.id AND t.tag = ?)")
        args.append(tag)
    if emoji is not None:
        where.append("s.emoji LIKE ? ESCAPE '\\'")
        args.append(f"%{_escape(emoji)}%")
    if intent is not None:
        where.append("s.intent = ?")
        args.append(intent)
    if style is not None:
        where.append("(s.style = ? OR json_extract(s.attrs, '$.subject.label') = ?)")
        args.extend([style, style])
    if favourite is not None:
        where.append("s.favourite = ?")
        args.append(int(favourite))
    if hidden is not None:
        where.append("s.hidden = ?")
        args.append(int(hidden))
    if used is not None:
        where.append(("" if used else "NOT ") + "EXISTS (SELECT 1 FROM sticker_refs r JOIN messages m ON "
                     "m.sticker_ref_id = r.id WHERE r.sticker_id = s.id)")
    return where, args


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get(app, sticker_id: int) -> Sticker:
    st = app.catalog.sticker(sticker_id, app.config.stickers_dir)
    if st is None:
        raise LibraryError(f"no sticker with id {sticker_id}")
    return st


def details(app, sticker_id: int) -> dict:
    """Everything about one sticker for `library show` and the GUI's detail pane."""
    st = get(app, sticker_id)
    row = app.catalog.conn.execute("SELECT * FROM stickers WHERE id=?", (sticker_id,)).fetchone()
    sources = [dict(r) for r in app.catalog.conn.execute(
        "SELECT path, pack, missing FROM sticker_sources WHERE sticker_id=? ORDER BY path", (sticker_id,))]
    return {"sticker": st, "frames": row["frames"], "size_bytes": row["size_bytes"], "phash": row["phash"],
            "intent_conf": row["intent_conf"], "attrs": json.loads(row["attrs"] or "{}"),
            "user_edited": json.loads(row["user_edited"] or "[]"), "sources": sources,
            "thumbnail": thumb_path(app.config, st.sha256)}


# --- edits ---------------------------------------------------------------------------------------
def set_tags(app, sticker_id: int, tags: list[str], *, replace: bool = True,
             remove: list[str] | None = None) -> list[str]:
    """Replace (or add to) a sticker's tags; returns the tags it now has."""
    get(app, sticker_id)
    clean = sorted({t.strip() for t in tags if t and t.strip()})
    with app.catalog.transaction() as conn:
        if replace:
            conn.execute("DELETE FROM sticker_tags WHERE sticker_id=?", (sticker_id,))
        for t in remove or []:
            conn.execute("DELETE FROM sticker_tags WHERE sticker_id=? AND tag=?", (sticker_id, t.strip()))
        conn.executemany("INSERT OR IGNORE INTO sticker_tags(sticker_id, tag) VALUES(?,?)",
                         [(sticker_id, t) for t in clean])
    index.reindex(app, [sticker_id])
    return get(app, sticker_id).tags


def set_attribute(app, sticker_id: int, field: str, value: str | None) -> None:
    """A user's edit of one attribute; recorded in user_edited so `describe` never overwrites it."""
    if field not in COLUMN_FIELDS | ATTR_FIELDS:
        raise LibraryError(f"unknown attribute {field!r}; editable: {', '.join(sorted(COLUMN_FIELDS | ATTR_FIELDS))}")
    get(app, sticker_id)
    with app.catalog.transaction() as conn:
        row = conn.execute("SELECT attrs, user_edited FROM stickers WHERE id=?", (sticker_id,)).fetchone()
        edited = set(json.loads(row["user_edited"] or "[]")) | {field}
        attrs = json.loads(row["attrs"] or "{}")
        if field in ATTR_FIELDS or field in {"intent", "style"}:
            if value:
                attrs[field] = {"label": value, "conf": 1.0, "source": "user", "top": [[value, 1.0]]}
            else:
                attrs.pop(field, None)
        sets = {"attrs": json.dumps(attrs, ensure_ascii=False), "user_edited": json.dumps(sorted(edited))}
        if field in COLUMN_FIELDS:
            sets[field] = value if value is not None else ("" if field in {"ocr_text", "description"} else None)
            if field == "intent":
                sets["intent_conf"] = 1.0 if value else None
        cols = ", ".join(f"{k}=?" for k in sets)
        conn.execute(f"UPDATE stickers SET {cols} WHERE id=?", [*sets.values(), sticker_id])
    index.reindex(app, [sticker_id])


def set_favourite(app, sticker_id: int, on: bool = True) -> None:
    _set_flag(app, sticker_id, "favourite", on)


def set_hidden(app, sticker_id: int, on: bool = True) -> None:
    _set_flag(app, sticker_id, "hidden", on)


def _set_flag(app, sticker_id: int, column: str, on: bool) -> None:
    get(app, sticker_id)
    with app.catalog.transaction() as conn:
        conn.execute(f"UPDATE stickers SET {column}=? WHERE id=?", (int(on), sticker_id))
    index.reindex(app, [sticker_id])


# --- delete --------------------------------------------------------------------------------------
def delete(app, ids: list[int]) -> int:
    """Delete stickers: catalog rows (sources and tags go with them; chat references keep their
    emoji but lose the link), the stored files, thumbnails, previews and vectors. Returns how many."""
    rows = app.catalog.conn.execute(
        f"SELECT id, sha256, fmt FROM stickers WHERE id IN ({','.join('?' * len(ids))})", list(ids)).fetchall() \
        if ids else []
    if not rows:
        return 0
    with app.catalog.transaction() as conn:
        conn.executemany("DELETE FROM stickers WHERE id=?", [(r["id"],) for r in rows])
    index.remove(app, [r["id"] for r in rows])
    for r in rows:
        _remove_files(app, r["sha256"], r["fmt"])
    return len(rows)


def _remove_files(app, sha256: str | None, fmt: str) -> None:
    """Files are content-addressed: remove them only when no sticker row still has these bytes."""
    if not sha256:
        return
    if app.catalog.conn.execute("SELECT 1 FROM stickers WHERE sha256=?", (sha256,)).fetchone():
        return
    for p in (sticker_file(app.config.stickers_dir, sha256, fmt), thumb_path(app.config, sha256),
              preview_path(app.config, sha256)):
        p.unlink(missing_ok=True)


# --- export --------------------------------------------------------------------------------------
def export_pack(app, dest: Path | str, *, pack: str | None = None, ids: list[int] | None = None) -> int:
    """Write a pack's stickers (or these ids) to a folder, or to a .zip when dest ends in .zip/.wastickers.
    The original bytes are written, named `<id>.<format>`; returns how many were written."""
    dest = Path(dest).expanduser()
    if ids is not None:
        stickers = app.catalog.stickers(list(ids), app.config.stickers_dir)
    elif pack is not None:
        stickers = search(app, pack=pack, hidden=None, limit=1_000_000)
    else:
        raise LibraryError("say which stickers to export: a pack name or sticker ids")
    stickers = [s for s in stickers if s.path is not None and s.path.exists()]
    if not stickers:
        raise LibraryError("no stickers to export" + (f" in pack {pack!r}" if pack else ""))
    if dest.suffix.lower() in {".zip", ".wastickers"}:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            if pack:
                zf.writestr("title.txt", pack)
            for s in stickers:
                zf.write(s.path, _export_name(s))
        os.replace(tmp, dest)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        for s in stickers:
            shutil.copyfile(s.path, dest / _export_name(s))
    return len(stickers)


def _export_name(s: Sticker) -> str:
    ext = {"jpeg": "jpg", "apng": "png"}.get(s.fmt, s.fmt)
    return f"{s.id:05d}.{ext}"


# --- duplicates ----------------------------------------------------------------------------------
def near_duplicates(app, max_distance: int = 6) -> list[list[int]]:
    """Groups of stickers whose perceptual hashes differ in at most `max_distance` of 64 bits (the same
    picture re-encoded or resized). Offered to the user; nothing is merged here."""
    rows = app.catalog.conn.execute("SELECT id, phash FROM stickers WHERE phash IS NOT NULL ORDER BY id").fetchall()
    ids = [r["id"] for r in rows]
    hashes = [int(r["phash"], 16) for r in rows]
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Pigeonhole: hashes within distance d < 8 share at least one of 8 bytes exactly; bucket by each byte.
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, h in enumerate(hashes):
        for b in range(8):
            buckets.setdefault((b, (h >> (8 * b)) & 0xFF), []).append(i)
    if max_distance >= 8:
        pairs = ((i, j) for i in range(len(ids)) for j in range(i + 1, len(ids)))
    else:
        pairs = ((i, j) for members in buckets.values() for k, i in enumerate(members) for j in members[k + 1:])
    for i, j in pairs:
        if find(i) != find(j) and bin(hashes[i] ^ hashes[j]).count("1") <= max_distance:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(ids)):
        groups.setdefault(find(i), []).append(ids[i])
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def merge(app, keep_id: int, other_ids: list[int]) -> Sticker:
    """Fold other stickers into `keep_id`: their sources, tags and chat references (so usage counts
    join), and emoji/pack/words where the kept one has none. The others are deleted."""
    get(app, keep_id)
    others = [i for i in dict.fromkeys(other_ids) if i != keep_id]
    for i in others:
        get(app, i)
    if not others:
        return get(app, keep_id)
    marks = ",".join("?" * len(others))
    with app.catalog.transaction() as conn:
        conn.execute(f"UPDATE sticker_sources SET sticker_id=? WHERE sticker_id IN ({marks})", [keep_id, *others])
        conn.execute(f"INSERT OR IGNORE INTO sticker_tags(sticker_id, tag) SELECT ?, tag FROM sticker_tags "
                     f"WHERE sticker_id IN ({marks})", [keep_id, *others])
        conn.execute(f"UPDATE sticker_refs SET sticker_id=? WHERE sticker_id IN ({marks})", [keep_id, *others])
        for col in ("emoji", "pack", "ocr_text", "description", "intent", "style"):
            conn.execute(
                f"UPDATE stickers SET {col} = (SELECT o.{col} FROM stickers o WHERE o.id IN ({marks}) AND "
                f"o.{col} IS NOT NULL AND o.{col} != '' ORDER BY o.id LIMIT 1) "
                f"WHERE id=? AND ({col} IS NULL OR {col} = '') AND EXISTS (SELECT 1 FROM stickers o WHERE "
                f"o.id IN ({marks}) AND o.{col} IS NOT NULL AND o.{col} != '')", [*others, keep_id, *others])
        conn.execute(f"UPDATE stickers SET favourite = MAX(favourite, (SELECT MAX(favourite) FROM stickers "
                     f"WHERE id IN ({marks}))) WHERE id=?", [*others, keep_id])
    delete(app, others)
    index.reindex(app, [keep_id])
    return get(app, keep_id)


def packs(app) -> list[tuple[str, int]]:
    return [(r[0], r[1]) for r in app.catalog.conn.execute(
        "SELECT pack, COUNT(*) FROM stickers WHERE pack IS NOT NULL AND pack != '' GROUP BY pack ORDER BY pack")]


def hamming(a: str, b: str) -> int:
    return files.hamming(a, b)
