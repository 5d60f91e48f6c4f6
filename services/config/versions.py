"""Config as versions in NATS (contract 8): `switchboard config publish DIR` stores the folder's files as a new
version in the KV bucket sb_config and makes it `current`; running enrich, route and deliver processes switch
to it within seconds (services/config/live.py). Secrets never travel: config files name environment variables.

Key `v.<version>` holds one version: `{"version", "published_at", "by", "source", "files": {path: text}}`; the
version is the content hash of the files (the same `config_version` stamped on every decision), so publishing
an unchanged folder is a no-op and rolling back is pointing `current` at an older key.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from services.common import names
from services.config.loader import config_files, config_version, load_config
from services.config.models import Config


class UnknownVersion(LookupError):
    pass


@dataclass(frozen=True)
class Version:
    version: str
    published_at: datetime
    by: str
    source: str
    files: dict[str, str]

    def as_json(self) -> bytes:
        return json.dumps({"version": self.version, "published_at": self.published_at.isoformat(), "by": self.by,
                           "source": self.source, "files": self.files}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Version":
        raw = json.loads(data)
        return cls(raw["version"], datetime.fromisoformat(raw["published_at"]), raw.get("by", ""),
                   raw.get("source", ""), dict(raw["files"]))


def read_folder(directory: Path, by: str = "") -> Version:
    """The folder as a Version (call load_config first: only a valid folder is published)."""
    root = Path(directory)
    files = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in config_files(root)}
    return Version(config_version(root), datetime.now(UTC), by, str(root.resolve()), files)


async def current_version(kv: KeyValue) -> str | None:
    try:
        entry = await kv.get(names.CONFIG_CURRENT_KEY)
    except KeyNotFoundError:
        return None
    return entry.value.decode() if entry.value else None


async def get_version(kv: KeyValue, version: str) -> Version:
    try:
        entry = await kv.get(names.config_version_key(version))
    except KeyNotFoundError:
        raise UnknownVersion(f"no published config version {version!r} (see `switchboard config versions`)") from None
    assert entry.value is not None
    return Version.from_json(entry.value)


async def publish(kv: KeyValue, version: Version) -> tuple[str | None, bool]:
    """Store the version (once) and make it current. Returns (the previous current version, changed?)."""
    previous = await current_version(kv)
    try:
        await kv.get(names.config_version_key(version.version))
    except KeyNotFoundError:
        await kv.put(names.config_version_key(version.version), version.as_json())
    if previous == version.version:
        return previous, False
    await kv.put(names.CONFIG_CURRENT_KEY, version.version.encode())
    return previous, True


async def rollback(kv: KeyValue, version: str) -> str | None:
    """Point `current` at an already published version; returns the version it replaced."""
    await get_version(kv, version)  # raises UnknownVersion
    previous = await current_version(kv)
    await kv.put(names.CONFIG_CURRENT_KEY, version.encode())
    return previous


async def list_versions(kv: KeyValue) -> list[Version]:
    """Every published version, oldest first."""
    try:
        keys = await kv.keys()
    except Exception:  # noqa: BLE001 - nats-py raises NoKeysError on an empty bucket
        return []
    versions = [await get_version(kv, key[2:]) for key in keys if key.startswith("v.")]
    return sorted(versions, key=lambda v: v.published_at)


def materialize(version: Version, cache: Path) -> Path:
    """Write the version's files under `cache/<version>/` (once; atomically) and return the folder."""
    target = cache / version.version
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".{version.version}."))
    for rel, text in version.files.items():
        path = staging / rel
        if path.resolve().parent != (staging / Path(rel).parent).resolve() or ".." in Path(rel).parts:
            raise ValueError(f"config version {version.version}: unsafe path {rel!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    try:
        os.rename(staging, target)
    except OSError:  # another process materialized it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


async def load_version(kv: KeyValue, version: str, cache: Path) -> Config:
    return load_config(materialize(await get_version(kv, version), cache))


async def startup_config(kv: KeyValue, local: Config, cache: Path, publish_local: bool, by: str = "") -> Config:
    """The config a process starts with. `switchboard up --config DIR` publishes DIR when it differs from the
    current version and runs it; a single service (`switchboard route`, ...) runs the current published
    version when there is one (so every replica agrees), else its own --config folder."""
    if publish_local:
        await publish(kv, read_folder(Path(local.directory), by=by))
        return local
    latest = await current_version(kv)
    if latest is None or latest == local.version:
        return local
    return await load_version(kv, latest, cache)
