"""A paged source's backlog: how deep the next poll must page to lose nothing.

A paged source is read newest first and stops at a page that holds nothing new,
or at ``max_pages``. When more new mentions arrive between two polls than
``max_pages`` pages hold, the poll stops with new mentions still on its last
page; the next poll would find page 1 known and stop, and the older new
mentions beyond the cut-off would never be fetched. The same after a poll whose
later page failed. So a poll that was cut off records how deep it got; the next
poll pages on through those (now known) pages and goes on while pages hold
something new, up to ``depth + max_pages`` pages, and records the new depth if
it is cut off again. A poll that ends on its own (a page with nothing new past
the depth, or the site's last page) clears it.
"""

from __future__ import annotations

# A source flooded on every poll would page deeper every time: past this many pages
# the depth stops growing (the poll still reads max_pages past it), and a warning
# says to raise max_pages or run `review-monitor backfill`.
MAX_BACKLOG_PAGES = 200


def backlog_after_poll(previous: int | None, pages: int, cut_off: bool,
                       failed: bool) -> int | None:
    """The backlog depth (pages) the next poll resumes past, or None for none.

    ``pages``: the deepest page this poll read (0: none, e.g. not modified or the
    first page failed). ``cut_off``: it stopped at its page limit on a page that
    still held something new. ``failed``: some page could not be fetched, read or
    stored. A poll that read nothing learned nothing: the depth stays. A cut-off or
    failed poll keeps the deeper of the old depth and its own (pages past a failure
    were stored by an earlier poll, and what lies beyond them was not). A poll that
    read pages and neither was cut off nor failed ended on its own: no backlog.
    """
    if pages <= 0:
        return previous
    if cut_off or failed:
        return min(max(previous or 0, pages), MAX_BACKLOG_PAGES)
    return None

