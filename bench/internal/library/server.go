package library

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Stats counts the listing responses a Handler gave, served as JSON at
// /_stats.
type Stats struct {
	Full        int64 `json:"full"`         // 200 with a body
	NotModified int64 `json:"not_modified"` // 304
}

// Handler serves the library: GET ListPath[?page=k] (200, an empty view
// past the last page), /robots.txt (everything allowed), /_stats (Stats),
// 404 elsewhere.
// Listing responses carry a strong ETag derived from (seed, pages, page,
// encoding) and answer a matching If-None-Match with 304. With gz set,
// clients that accept gzip get the page gzip-compressed (the ETag then
// differs, as a strong validator must). Every page (and its gzip form)
// is rendered before Handler returns, so that serving costs the same to
// every contestant and little CPU: the fixture shares the machine.
func (l *Library) Handler(gz bool) http.Handler {
	plain := make([][]byte, l.cfg.Pages+1) // the last one is the empty page
	var zipped [][]byte
	for p := range plain {
		plain[p] = l.Page(p)
	}
	if gz {
		zipped = make([][]byte, len(plain))
		for p, body := range plain {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			zw.Write(body)
			zw.Close()
			zipped[p] = buf.Bytes()
		}
	}
	var full, notModified atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Stats{Full: full.Load(), NotModified: notModified.Load()})
	})
	mux.HandleFunc("GET /robots.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "User-agent: *\nDisallow: /admin/\n")
	})
	mux.HandleFunc("GET "+ListPath, func(w http.ResponseWriter, r *http.Request) {
		p := 0
		if v := r.URL.Query().Get("page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, "bad page parameter", http.StatusBadRequest)
				return
			}
			p = n
		}
		useGzip := gz && acceptsGzip(r.Header.Get("Accept-Encoding"))
		etag := fmt.Sprintf(`"lib-%x-%d-%d"`, l.cfg.Seed, l.cfg.Pages, p)
		if useGzip {
			etag = fmt.Sprintf(`"lib-%x-%d-%d-gz"`, l.cfg.Seed, l.cfg.Pages, p)
		}
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "public, max-age=0")
		if gz {
			h.Set("Vary", "Accept-Encoding")
		}
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		i := min(p, l.cfg.Pages) // every page past the last is the same empty view
		body := plain[i]
		if useGzip {
			body = zipped[i]
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("Content-Type", "text/html; charset=UTF-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	return mux
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") || strings.Contains(params, "q=0.")
		}
	}
	return false
}

// etagMatch is If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}
