package parser

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
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
