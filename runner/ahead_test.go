package runner

import "testing"

func TestNextPattern(t *testing.T) {
	for _, c := range []struct {
		cur, next string
		want      []string // guesses k = 0, 1, 2
	}{
		{"https://x.org/list?cat=a&page=1", "https://x.org/list?cat=a&page=2",
			[]string{"https://x.org/list?cat=a&page=2", "https://x.org/list?cat=a&page=3", "https://x.org/list?cat=a&page=4"}},
		{"https://x.org/browse?start=20&rpp=20", "https://x.org/browse?start=40&rpp=20",
			[]string{"https://x.org/browse?start=40&rpp=20", "https://x.org/browse?start=60&rpp=20", "https://x.org/browse?start=80&rpp=20"}},
		{"https://x.org/reports/page/3/", "https://x.org/reports/page/4/",
			[]string{"https://x.org/reports/page/4/", "https://x.org/reports/page/5/", "https://x.org/reports/page/6/"}},
		{"https://x.org/list", "https://x.org/list?page=1", nil},                      // no number on the first page
		{"https://x.org/list?page=2", "https://x.org/list?page=1", nil},               // backwards
		{"https://x.org/list?page=1&y=2020", "https://x.org/list?page=2&y=2021", nil}, // two numbers move
		{"https://x.org/list?page=1", "https://y.org/list?page=2", nil},               // another host
		{"https://x.org/a/1", "https://x.org/b/2", nil},
		{"https://x.org/list?after=abc", "https://x.org/list?after=def", nil}, // cursor tokens
	} {
		g := nextPattern(c.cur, c.next)
		if (g == nil) != (c.want == nil) {
			t.Errorf("nextPattern(%s, %s): pattern found = %v, want %v", c.cur, c.next, g != nil, c.want != nil)
			continue
		}
		for k, want := range c.want {
			if got := g(k); got != want {
				t.Errorf("nextPattern(%s, %s)(%d) = %s, want %s", c.cur, c.next, k, got, want)
			}
		}
	}
}
