package crawler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/temoto/robotstxt"
)

// maxRobotsBody is how much of a robots.txt is read; RFC 9309 asks
// crawlers to parse at least 500 KiB and allows ignoring the rest.
const maxRobotsBody = 512 << 10

// robotsEntry is the robots.txt of one origin, loaded once per session.
type robotsEntry struct {
	mu     sync.Mutex
	loaded bool
	url    string
	group  *robotstxt.Group // nil: everything allowed
	body   []byte           // the robots.txt as fetched, to quote its rules
	err    *Error           // robots.txt unreachable: everything blocked
}

// robotsFor returns the robots.txt entry of u's origin, loading it on
// first use. The returned error is the (cached) failure to load it.
func (s *Session) robotsFor(ctx context.Context, u *url.URL) (*robotsEntry, error) {
	key := strings.ToLower(u.Scheme + "://" + u.Host)
	s.mu.Lock()
	e, ok := s.robots[key]
	if !ok {
		e = &robotsEntry{url: key + "/robots.txt"}
		s.robots[key] = e
	}
	s.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.loaded {
		if err := s.loadRobots(ctx, e); err != nil {
			if ctx.Err() != nil {
				// Not the site's fault: try again next time.
				return nil, s.errorf(e.url, 0, KindTransient, "load robots.txt: %w", ctx.Err())
			}
			e.err = err
		}
		e.loaded = true
		if e.group != nil && e.group.CrawlDelay > 0 {
			s.raiseDelay(u.Host, e.group.CrawlDelay)
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

// checkRobots returns a KindBlocked error when robots.txt disallows u.
func (s *Session) checkRobots(ctx context.Context, u *url.URL) error {
	if !s.seed.Politeness.ObeyRobots() {
		return nil
	}
	e, err := s.robotsFor(ctx, u)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			// Name the page being fetched, keep the robots cause.
			c := *fe
			c.URL = u.String()
			c.Status = 0
			return &c
		}
		return err
	}
	if e.group == nil {
		return nil
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	if !e.group.Test(path) {
		rule := ""
		if r := matchingRule(e.body, s.agent, path); r != "" {
			rule = " by the rule " + r
		}
		return s.errorf(u.String(), 0, KindBlocked, "robots.txt (%s) disallows %s for user agent %q%s", e.url, path, s.agent, rule)
	}
	return nil
}

// loadRobots fetches and parses one robots.txt (RFC 9309): 2xx is parsed,
// 4xx (and too many redirects) allows everything, 5xx or an unreachable
// host blocks everything. Network errors and 5xx are retried first.
func (s *Session) loadRobots(ctx context.Context, e *robotsEntry) *Error {
	for attempt := 0; ; attempt++ {
		status, body, err := s.getRobots(ctx, e.url)
		if err == nil {
			switch {
			case status >= 200 && status < 300:
				data, perr := robotstxt.FromBytes(body)
				if perr != nil {
					s.log.Warn("robots.txt does not parse; treating it as allowing everything", "url", e.url, "err", perr)
					return nil
				}
				e.group = data.FindGroup(s.agent)
				e.body = body
				s.log.Debug("robots.txt loaded", "url", e.url, "crawl_delay", e.group.CrawlDelay)
				return nil
			case status >= 300 && status < 400:
				s.log.Info("robots.txt redirects too often; treating it as absent", "url", e.url, "status", status)
				return nil
			case status >= 400 && status < 500 && status != http.StatusTooManyRequests:
				s.log.Debug("no robots.txt; everything allowed", "url", e.url, "status", status)
				return nil
			}
		}
		var ae *AddressError
		if errors.As(err, &ae) {
			return s.errorf(e.url, 0, KindRefused, "load robots.txt: %w", err)
		}
		if ctx.Err() != nil {
			return s.errorf(e.url, 0, KindTransient, "load robots.txt: %w", ctx.Err())
		}
		if attempt >= s.c.cfg.MaxRetries {
			if err != nil && isTimeout(err) {
				return s.errorf(e.url, 0, KindBlocked, "robots.txt unavailable, so every page of the host is off limits: %s", s.timeoutCause(err))
			}
			if err != nil {
				return s.errorf(e.url, 0, KindBlocked, "robots.txt unavailable, so every page of the host is off limits: %w", err)
			}
			return s.errorf(e.url, status, KindBlocked, "robots.txt unavailable, so every page of the host is off limits")
		}
		wait := s.c.backoff(attempt)
		s.log.Info("retrying robots.txt", "url", e.url, "status", status, "err", err, "wait", wait)
		if err := s.c.cfg.Sleep(ctx, wait); err != nil {
			return s.errorf(e.url, 0, KindTransient, "load robots.txt: %w", err)
		}
	}
}

// getRobots fetches a robots.txt, following up to five redirects.
func (s *Session) getRobots(ctx context.Context, rawURL string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set("Accept", "text/plain,*/*;q=0.5")
	res, err := s.robotsClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		return res.StatusCode, nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxRobotsBody))
	if err != nil {
		return 0, nil, fmt.Errorf("read robots.txt: %w", err)
	}
	return res.StatusCode, body, nil
}

// robotsRedirect stops a robots.txt fetch after five redirects, leaving
// the last response (a 3xx) to the caller.
func robotsRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return http.ErrUseLastResponse
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("robots.txt redirects to %s", req.URL.Redacted())
	}
	return nil
}

// matchingRule quotes the Disallow rule of robots.txt that blocks path
// for agent (a lower-case product token), with its line number
// ("\"Disallow: /list\" (line 2)"): the longest matching rule of the
// group robotstxt chooses (the longest user-agent that prefixes agent,
// else "*"). It returns "" when it finds none.
func matchingRule(body []byte, agent, path string) string {
	lines := strings.Split(string(body), "\n")
	groupAgent := ""
	for _, line := range lines {
		k, v, _ := strings.Cut(line, ":")
		v = strings.ToLower(strings.TrimSpace(strings.SplitN(v, "#", 2)[0]))
		if !strings.EqualFold(strings.TrimSpace(k), "user-agent") {
			continue
		}
		if (v == "*" && groupAgent == "") || (v != "*" && strings.HasPrefix(agent, v) && len(v) > len(groupAgent)) {
			groupAgent = v
		}
	}
	if groupAgent == "" {
		return ""
	}
	var (
		best, bestLen int
		bestText      string
		inGroup       bool // the current group names groupAgent
		agents        bool // the previous line was a user-agent line
	)
	for i, line := range lines {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "user-agent":
			if !agents {
				inGroup = false
			}
			agents = true
			if strings.EqualFold(v, groupAgent) {
				inGroup = true
			}
			continue
		case "disallow":
			if inGroup && v != "" && robotsMatch(v, path) && len(v) > bestLen {
				best, bestLen, bestText = i+1, len(v), strings.TrimSpace(line)
			}
		}
		agents = false
	}
	if bestText == "" {
		return ""
	}
	return fmt.Sprintf("%q (line %d)", bestText, best)
}

// robotsMatch reports whether a robots.txt path pattern (with * and a
// final $) matches path.
func robotsMatch(pattern, path string) bool {
	anchored := strings.HasSuffix(pattern, "$")
	expr := "^" + strings.ReplaceAll(regexp.QuoteMeta(strings.TrimSuffix(pattern, "$")), `\*`, ".*")
	if anchored {
		expr += "$"
	}
	re, err := regexp.Compile(expr)
	return err == nil && re.MatchString(path)
}
