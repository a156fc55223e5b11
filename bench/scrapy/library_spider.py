"""Scrapy contestant of harvest's benchmark (bench/README.md).

Extracts the same eight fields as harvest and the Go ceiling from the
fixture library, 16 concurrent requests, no delay, no autothrottle, a JSON
Lines feed. Run with Debian's python3-scrapy:

    /usr/bin/python3 -m scrapy runspider bench/scrapy/library_spider.py \
        -a start=http://127.0.0.1:PORT/resources -a pages=500 -a mode=param \
        -O items.jsonl:jsonlines

mode=param: every page URL is known up front (start?page=0..pages-1).
mode=next:  follow the pager's rel="next" link from the start page.
"""

import scrapy


def text(sel):
    """Visible text of a selection, whitespace-collapsed."""
    return " ".join(" ".join(sel.css("::text").getall()).split())


def texts(sels):
    return [text(s) for s in sels]


class LibrarySpider(scrapy.Spider):
    name = "library"
    custom_settings = {
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        "DOWNLOAD_DELAY": 0,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "FEED_EXPORT_ENCODING": "utf-8",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }

    def __init__(self, start=None, pages="0", mode="param", **kw):
        super().__init__(**kw)
        if not start:
            raise ValueError("-a start=URL is required")
        self.start = start
        self.pages = int(pages)
        self.mode = mode

    def start_requests(self):
        if self.mode == "param":
            for p in range(self.pages):
                yield scrapy.Request(f"{self.start}?page={p}", callback=self.parse)
        elif self.mode == "next":
            yield scrapy.Request(self.start, callback=self.parse)
        else:
            raise ValueError(f"unknown mode {self.mode!r}")

    def parse(self, response):
        heading = text(response.css("h1.page-title"))
        for row in response.css("div.views-row"):
            a = row.css("h3 a")[:1]
            year = text(row.css(".field--name-field-year .field__item"))
            cats = texts(row.css(".field--name-field-category .field__item"))
            yield {
                "url": response.urljoin(a.attrib.get("href", "")),
                "title": text(a),
                "summary": text(row.css(".views-field-body")),
                "countries": texts(row.css(".field--name-field-country .field__item")),
                "regions": texts(row.css(".field--name-field-region .field__item")),
                "authors": texts(row.css(".field--name-field-authors .field__item")),
                "year": int(year) if year.isdigit() else 0,
                "categories": cats or [heading],
            }
        if self.mode == "next":
            nxt = response.css('li.pager__item--next a[rel="next"]::attr(href)').get()
            if nxt:
                yield response.follow(nxt, callback=self.parse)
