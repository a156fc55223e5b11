package crawler

import "testing"

func TestMatchingRule(t *testing.T) {
	body := []byte("# robots\nUser-agent: googlebot\nDisallow: /\n\nUser-agent: *\nUser-agent: harvest\nDisallow: /li\nDisallow: /list # listings\nDisallow: /*.pdf$\nAllow: /list/open\n")
	for path, want := range map[string]string{
		"/list?page=1":  `"Disallow: /list" (line 8)`,
		"/lib":          `"Disallow: /li" (line 7)`,
		"/files/a.pdf":  `"Disallow: /*.pdf$" (line 9)`,
		"/files/a.pdfx": "",
		"/about":        "",
	} {
		if got := matchingRule(body, "harvest", path); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if got := matchingRule(body, "googlebot-news", "/about"); got != `"Disallow: /" (line 3)` {
		t.Errorf("googlebot group: %s", got)
	}
}
