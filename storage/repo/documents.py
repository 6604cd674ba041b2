"""SQL of the document library: documents with their newest version."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defer

from storage.models import Document, DocumentVersion, User

Row = tuple[Document, DocumentVersion, str | None]


def _latest(*, with_content: bool = False):  # type: ignore[no-untyped-def]
    newest = (select(DocumentVersion.document_id,
                     func.max(DocumentVersion.version).label("v"))
              .group_by(DocumentVersion.document_id).subquery())
    uploader = aliased(User)
    stmt = (
        select(Document, DocumentVersion, uploader.name)
        .join(newest, newest.c.document_id == Document.id)
        .join(DocumentVersion, (DocumentVersion.document_id == Document.id)
              & (DocumentVersion.version == newest.c.v))
        .outerjoin(uploader, uploader.id == DocumentVersion.uploaded_by_id)
    )
    if not with_content:
        # The bytes are read only to attach them to an e-mail.
        stmt = stmt.options(defer(DocumentVersion.content))
    return stmt


async def documents_with_latest(s: AsyncSession, *, include_hidden: bool) -> list[Row]:
    stmt = _latest()
    if not include_hidden:
        stmt = stmt.where(Document.hidden.is_(False))
    rows = await s.execute(stmt.order_by(Document.hidden, Document.name, Document.id))
    return [(d, v, who) for d, v, who in rows.all()]


async def document_with_latest(s: AsyncSession, document_id: int) -> Row | None:
    row = (await s.execute(_latest(with_content=True).where(Document.id == document_id))
           ).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def document(s: AsyncSession, document_id: int, *, lock: bool = False
                   ) -> Document | None:
    stmt = select(Document).where(Document.id == document_id)
    if lock:
        stmt = stmt.with_for_update()
    return await s.scalar(stmt)


async def latest_version_number(s: AsyncSession, document_id: int) -> int:
    found = await s.scalar(select(func.max(DocumentVersion.version))
                           .where(DocumentVersion.document_id == document_id))
    return int(found or 0)


async def count(s: AsyncSession) -> int:
    return int(await s.scalar(select(func.count()).select_from(Document)) or 0)
