"""Reads a harvest feed as a reader would and prints what it saw as JSON.

Atom 1.0 is read with feedparser. Debian's feedparser (6.0.x) has no JSON
Feed parser (that came in feedparser 6.1), so a JSON Feed 1.1 is read with
the json module and checked against the spec's requirements: version URL,
title, items each with a string id and content_html or content_text.
"""
import json
import sys

import feedparser

path = sys.argv[1]
if path.endswith(".json"):
    problems = []
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    if d.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append("version is %r" % d.get("version"))
    if not isinstance(d.get("title"), str):
        problems.append("no title")
    for i, item in enumerate(d.get("items", [])):
        if not isinstance(item.get("id"), str):
            problems.append("item %d: id is not a string" % i)
        if "content_html" not in item and "content_text" not in item:
            problems.append("item %d: neither content_html nor content_text" % i)
    print(json.dumps({
        "bozo": bool(problems),
        "bozo_exception": "; ".join(problems),
        "version": "json11" if not problems else "",
        "title": d.get("title", ""),
        "entries": [{"id": i.get("id", ""), "title": i.get("title", ""), "link": i.get("url", "")} for i in d.get("items", [])],
    }, ensure_ascii=False))
    sys.exit(0)

d = feedparser.parse(path)
print(json.dumps({
    "bozo": bool(d.bozo),
    "bozo_exception": str(d.get("bozo_exception", "")),
    "version": d.version,
    "title": d.feed.get("title", ""),
    "entries": [{"id": e.get("id", ""), "title": e.get("title", ""), "link": e.get("link", "")} for e in d.entries],
}, ensure_ascii=False))
