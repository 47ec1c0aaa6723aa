"""Build a tiny OCI image layout offline, byte for byte the same on every run (the end-to-end tests and the demo).

One gzip'd tar layer holding one small file (fixed mtimes and owners, gzip mtime 0), an image
config whose ``rootfs.diff_ids`` is the uncompressed tar's digest, an OCI manifest, and an
``index.json`` naming the manifest by tag (``org.opencontainers.image.ref.name``), so
``skopeo copy oci:<layout>:<tag> ...`` can push it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

FILE_NAME = "hello.txt"
FILE_CONTENT = b"hello from the dockhook end-to-end test\n"
MTIME = 1_700_000_000  # any fixed instant


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def layer_tar() -> bytes:
    """The uncompressed layer: a USTAR archive with one file, owned by root, fixed mtime."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(FILE_NAME)
        info.size = len(FILE_CONTENT)
        info.mtime = MTIME
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(FILE_CONTENT))
    return buffer.getvalue()


def build_layout(layout: Path, tag: str) -> str:
    """Write an OCI image layout at ``layout`` with one image tagged ``tag``; return its manifest digest."""
    tar = layer_tar()
    layer = gzip.compress(tar, compresslevel=9, mtime=0)
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": sha256(layer), "size": len(layer)}],
        }
    )
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (layer, config, manifest):
        (blobs / sha256(blob).removeprefix("sha256:")).write_bytes(blob)
    (layout / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    digest = sha256(manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": digest,
                "size": len(manifest),
                "annotations": {REF_NAME: tag},
            }
        ],
    }
    (layout / "index.json").write_bytes(_json(index))
    return digest


def manifest_digest(layout: Path, tag: str) -> str:
    """The digest ``index.json`` of ``layout`` names for ``tag`` (e.g. a layout skopeo wrote)."""
    index = json.loads((layout / "index.json").read_text())
    for entry in index.get("manifests", []):
        if entry.get("annotations", {}).get(REF_NAME) == tag:
            return str(entry["digest"])
    raise LookupError(f"{layout}/index.json names no manifest for {tag!r}: {index}")
