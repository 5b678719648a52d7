"""The port of Go's text/tabwriter that lays out `kompy describe` as kubectl does."""

from __future__ import annotations

from kompy.kubectl.tabwriter import tabwrite


def test_cells_align_in_blocks_of_consecutive_lines() -> None:
    text = ("Name:\tweb\nNamespace:\tdefault\nLabels:\tapp=web\n\ttier=front\n"
            "Containers:\n  web:\n    Image:\tshop:1\n    Restart Count:\t0\n")
    assert tabwrite(text) == (
        "Name:       web\n"
        "Namespace:  default\n"
        "Labels:     app=web\n"
        "            tier=front\n"
        "Containers:\n"
        "  web:\n"
        "    Image:          shop:1\n"
        "    Restart Count:  0\n")


def test_a_line_without_tabs_ends_the_blocks_and_the_last_cell_is_free() -> None:
    text = "a:\t1\nlong heading:\t2\nplain line\nb:\tx\tlast cell may be long\ncc:\ty\tz\n"
    assert tabwrite(text) == ("a:             1\nlong heading:  2\nplain line\n"
                              "b:   x  last cell may be long\ncc:  y  z\n")


def test_form_feed_flushes_like_kubectls_flush_before_events() -> None:
    text = "Volumes:\t<none>\f  Type\tReason\n  ----\t------\n  Normal\tStarted\n"
    assert tabwrite(text) == ("Volumes:  <none>\n  Type    Reason\n  ----    ------\n"
                              "  Normal  Started\n")
