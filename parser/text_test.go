package parser

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/harvest-dev/harvest/record"
)

// parseFragment parses s as the body of a page and returns <body>.
func parseBody(t testing.TB, s string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader("<html><body>" + s + "</body></html>"))
	if err != nil {
		t.Fatal(err)
	}
	var body *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "body" {
			body = n
		}
		for c := n.FirstChild; c != nil && body == nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return body
}

func TestNodeText(t *testing.T) {
	cases := []struct{ name, html, want string }{
		{"br is a space", "Judge of<br>the Court", "Judge of the Court"},
		{"br with no text around", "a<br/><br/>b", "a b"},
		{"blocks do not glue words", "<div>one</div><div>two</div><p>three</p>", "one two three"},
		{"list items", "<ul><li>a</li><li>b</li></ul>", "a b"},
		{"table cells", "<table><tr><td>a</td><td>b</td></tr></table>", "a b"},
		{"inline elements add nothing", "Fire<b>fox</b> <i>and</i> more", "Firefox and more"},
		{"scripts styles noscript skipped", "a<script>var x=1</script><style>p{}</style><noscript>Enable JS</noscript>b", "ab"},
		{"hidden skipped", `a <span hidden>secret</span><span style="DISPLAY: none">x</span> b`, "a b"},
		{"comments skipped", "a<!-- note -->b", "ab"},
		{"nbsp, thin and zero-width spaces collapse", "a&nbsp;&nbsp;b\u2009c\u200bd", "a b c d"},
		{"NFC", "Re\u0301sume\u0301", "Résumé"},
		{"entities", "Tom &amp; Jerry&#39;s", "Tom & Jerry's"},
		{"newlines and tabs", "\n\t a \n\n b\t", "a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := nodeText(parseBody(t, c.html)); got != c.want {
				t.Errorf("nodeText(%q) = %q, want %q", c.html, got, c.want)
			}
		})
	}
}

// nodesOf returns the node as a one-element scope.
func nodesOf(n *html.Node) []*html.Node { return []*html.Node{n} }

// normText's ASCII fast path gives exactly what record.Text gives.
func TestNormTextMatchesRecordText(t *testing.T) {
	for _, s := range []string{"", " ", "a", " a ", "a  b", "a\tb\nc\r\n", "\x00a\x01b\x7f c", "Judge of\n the   Court ",
		"already normal text", "ünïcode  text", "a\u00a0b", "x\u200by", "e\u0301", "trailing ", "\v\f"} {
		if got, want := normText(s), record.Text(s); got != want {
			t.Errorf("normText(%q) = %q, record.Text = %q", s, got, want)
		}
	}
}

func FuzzNormText(f *testing.F) {
	f.Add("Judge of\n the   Court ")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := normText(s), record.Text(s); got != want {
			t.Errorf("normText(%q) = %q, record.Text = %q", s, got, want)
		}
	})
}

// normalizeRecord must stay record.Normalize: same result on messy input.
func TestNormalizeRecordMatchesRecord(t *testing.T) {
	mk := func() record.Record {
		return record.Record{
			Source: " s ", Key: "k\n", URL: " https://x.org/a ", Title: "  Judge of\n the Court ",
			Summary: "e\u0301t\u00e9  \u200b", Language: "es ", Countries: []string{" Mexico", "Mexico", "", "Perú"},
			Authors: []string{"A", " a", "A "}, Categories: []string{}, Regions: nil,
			Extra: map[string]string{"date": " 2019-03-12 ", "empty": " \u00a0 "},
		}
	}
	a, b := mk(), mk()
	a.Normalize()
	normalizeRecord(&b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("normalizeRecord = %#v\nrecord.Normalize = %#v", b, a)
	}
}
