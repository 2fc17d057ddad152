"""What a knowledge base holds: documents, updates, the last retention score, disk use."""

from __future__ import annotations

from dataclasses import dataclass

from seal_gym.memory.store import KnowledgeBase


@dataclass
class KnowledgeBaseStatus:
    """A summary of a knowledge base's current state."""

    path: str
    model: str | None
    default_tag: str
    documents: int
    durable: int
    volatile: int
    waiting: int
    """Durable documents the next update will take up."""
    accepted_updates: int
    rolled_back_updates: int
    last_update: dict | None
    """The newest entry of the update log (None before the first update)."""
    disk_bytes: int
    unlearnable: list[str] = None
    """``"ID: reason"`` of each durable document no update will take up (see ``State.unlearnable``)."""

    def text(self) -> str:
        """A few lines for a terminal."""
        lines = [f"knowledge base {self.path} (model {self.model or 'embedded SmolLM2-135M-Instruct'}, "
                 f"default tag {self.default_tag})",
                 f"documents: {self.documents} ({self.durable} durable, {self.volatile} volatile); "
                 f"{self.waiting} waiting for the next update",
                 f"updates: {self.accepted_updates} accepted, {self.rolled_back_updates} rolled back"]
        if self.last_update:
            last = self.last_update
            retention = last.get("retention_after") if last["status"] == "accepted" else last.get("retention_before")
            shown = "n/a (no earlier update)" if retention is None else f"{100 * retention:.0f}%"
            lines.append(f"last update: {last['update_id']} {last['status']} at {last['time']}; retention {shown}; "
                         f"{last['reason']}")
        lines.extend(f"not learnable: {line}" for line in self.unlearnable or ())
        lines.append(f"disk use: {self.disk_bytes / 2**20:.1f} MiB")
        return "\n".join(lines)


def status(kb: KnowledgeBase) -> KnowledgeBaseStatus:
    """The status of ``kb``'s current state."""
    state = kb.current()
    durable = sum(d.tag == "durable" for d in state.documents)
    return KnowledgeBaseStatus(
        str(kb.path), kb.settings.model, kb.settings.default_tag, len(state.documents), durable,
        len(state.documents) - durable, len(state.pending()),
        sum(e["status"] == "accepted" for e in state.log), sum(e["status"] == "rolled back" for e in state.log),
        state.log[-1] if state.log else None, kb.disk_bytes(),
        [f"{doc.id} ({doc.title[:40]}): {why}" for doc, why in state.unlearnable()])
