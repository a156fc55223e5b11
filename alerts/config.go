// Package alerts turns a run's changes into webhook events and delivers
// them: the subscriptions file, filters, payloads (JSON in the Standard
// Webhooks style, or Slack), HMAC-SHA256 signing and a sender that works
// off an outbox with retries and backoff.
//
// Events are built by BuildEvents, kept by the store's outbox (the Outbox
// interface) and posted by a Sender in its own loop, so sending never
// blocks a crawl. The only state the package keeps is a Sender's list of
// subscriptions disabled by a 410 Gone.
//
// A JSON delivery body looks like
//
//	{"type":"publication.added","timestamp":"2026-03-01T02:00:00Z",
//	 "data":{"kind":"added","source":"iom-trafficking","key":"https://...",
//	   "url":"https://...","title":"...","summary":"...","countries":["Mexico"],
//	   "regions":[],"authors":[],"year":2024,"categories":["Trafficking"],
//	   "change_id":12,"run_id":7,"at":"2026-03-01T02:00:00Z"}}
//
// with type publication.added, .updated (data.changes lists each field's
// old and new value), .removed or .restored; run.digest (data: run_id,
// source, status, total, omitted, publications[]); run.failed,
// run.suspect or run.blocked (data: run_id, source, status, reason and
// the run's counts). A Slack delivery is {"text": "..."}.
package alerts

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/harvest-dev/harvest/store"
)

// Formats and modes of a subscription.
const (
	FormatJSON  = "json"  // Standard Webhooks style JSON payload
	FormatSlack = "slack" // {"text": ...} for a Slack incoming webhook

	ModeEach   = "each"   // one event per matching change
	ModeDigest = "digest" // one event per run listing the matching changes
)

// Subscription is one webhook target of the alerts file, with its secret
// resolved.
type Subscription struct {
	Name string
	URL  string
	// Secret is the signing key as written (raw bytes, or "whsec_" +
	// base64). It is empty only for a Slack subscription without one, whose
	// deliveries then go unsigned.
	Secret               Secret
	SecretEnv            string // the variable the secret came from, if any
	SecretFile           string // the file the secret came from, if any
	Format               string // FormatJSON (default) or FormatSlack
	Mode                 string // ModeEach (default) or ModeDigest
	AllowPrivateNetworks bool   // loopback/private targets allowed
	// Operator subscriptions receive run.failed, run.suspect and
	// run.blocked events, never publication changes.
	Operator bool
	Filter   Filter
	// Line is where the subscription starts in its file (0 when not loaded
	// from a file).
	Line int
}

// Filter selects changes. Every part is optional; each list is "any of",
// and all given parts must match.
type Filter struct {
	Sources    []string // seed ids
	Kinds      []string // added, updated, removed, restored; default [added]
	Keywords   []string // in title or summary, case-insensitive
	Countries  []string // any of the record's countries, case-insensitive
	Categories []string // any of the record's categories, case-insensitive
	Years      []int    // the record's year
}

// Secret is a signing secret. It prints as "[redacted]" through fmt and
// slog so that logging a Subscription never leaks it; convert it with
// string(s) to use it.
type Secret string

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the secret from encoding/json.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// Problem is one thing wrong with an alerts file, located by file and line.
type Problem struct {
	File string
	Line int
	Key  string // path of the key, like "subscriptions[1].filter.kinds"
	Msg  string
}

// Error reads "file:line: key: message".
func (p *Problem) Error() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Problems is every problem found in an alerts file.
type Problems []*Problem

// Error lists every problem, one a line.
func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// The keys of the alerts file, in documentation order.
var (
	topKeys    = []string{"subscriptions"}
	subKeys    = []string{"name", "url", "secret_env", "secret_file", "format", "mode", "allow_private_networks", "operator", "filter"}
	filterKeys = []string{"sources", "kinds", "keywords", "countries", "categories", "years"}
)

type fileYAML struct {
	Subscriptions []subYAML `yaml:"subscriptions"`
}

type subYAML struct {
	Name                 string     `yaml:"name"`
	URL                  string     `yaml:"url"`
	SecretEnv            string     `yaml:"secret_env"`
	SecretFile           string     `yaml:"secret_file"`
	Format               string     `yaml:"format"`
	Mode                 string     `yaml:"mode"`
	AllowPrivateNetworks bool       `yaml:"allow_private_networks"`
	Operator             bool       `yaml:"operator"`
	Filter               filterYAML `yaml:"filter"`
}

type filterYAML struct {
	Sources    []string `yaml:"sources"`
	Kinds      []string `yaml:"kinds"`
	Keywords   []string `yaml:"keywords"`
	Countries  []string `yaml:"countries"`
	Categories []string `yaml:"categories"`
	Years      []int    `yaml:"years"`
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// LoadSubscriptions reads the alerts file at path (DESIGN.md "Daemon"),
// resolves each subscription's secret from the environment variable named
// by secret_env (looked up with getenv) or from secret_file (a path
// relative to the alerts file's directory; surrounding white space
// trimmed), and applies the defaults (format json, mode each, filter kinds
// [added]). Unknown keys, an inline secret, duplicate names, a URL that is
// not absolute http(s), a missing secret and unknown formats, modes or
// kinds are errors. The error, if any, is Problems, each naming the file
// and line.
func LoadSubscriptions(path string, getenv func(string) string) ([]Subscription, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read alerts file: %w", err)
	}
	return parseSubscriptions(path, data, getenv)
}

func parseSubscriptions(file string, data []byte, getenv func(string) string) ([]Subscription, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, Problems{{File: file, Line: yamlErrLine(err), Msg: "not valid YAML: " + yamlMsg(err)}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: doc.Line, Msg: "an alerts file must be a YAML mapping with a subscriptions list"}}
	}
	root := doc.Content[0]
	var ps Problems
	add := func(line int, key, msg string) { ps = append(ps, &Problem{File: file, Line: line, Key: key, Msg: msg}) }

	checkKeys(root, topKeys, "", add)
	subsNode := valueOf(root, "subscriptions")
	if subsNode == nil {
		add(root.Line, "subscriptions", "missing (a list of webhook subscriptions)")
		return nil, ps
	}
	if subsNode.Kind != yaml.SequenceNode {
		add(subsNode.Line, "subscriptions", "must be a list of subscriptions")
		return nil, ps
	}
	for i, sn := range subsNode.Content {
		p := fmt.Sprintf("subscriptions[%d]", i)
		if sn.Kind != yaml.MappingNode {
			add(sn.Line, p, "must be a mapping (name, url, secret_env, ...)")
			continue
		}
		checkKeys(sn, subKeys, p, add)
		if fn := valueOf(sn, "filter"); fn != nil && fn.Kind == yaml.MappingNode {
			checkKeys(fn, filterKeys, p+".filter", add)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	var raw fileYAML
	if err := root.Decode(&raw); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				add(yamlErrLine(errors.New(e)), "", yamlLinePrefixRE.ReplaceAllString(e, ""))
			}
			return nil, ps
		}
		return nil, Problems{{File: file, Line: yamlErrLine(err), Msg: yamlMsg(err)}}
	}

	dir := filepath.Dir(file)
	names := map[string]int{}
	var subs []Subscription
	for i, r := range raw.Subscriptions {
		sn := subsNode.Content[i]
		p := fmt.Sprintf("subscriptions[%d]", i)
		if r.Name != "" {
			p = fmt.Sprintf("subscriptions[%d] (%s)", i, r.Name)
		}
		at := func(key string) int { return lineOf(sn, key) }
		s := Subscription{
			Name:                 strings.TrimSpace(r.Name),
			URL:                  strings.TrimSpace(r.URL),
			SecretEnv:            r.SecretEnv,
			SecretFile:           r.SecretFile,
			Format:               r.Format,
			Mode:                 r.Mode,
			AllowPrivateNetworks: r.AllowPrivateNetworks,
			Operator:             r.Operator,
			Line:                 sn.Line,
			Filter: Filter{
				Sources:    r.Filter.Sources,
				Kinds:      r.Filter.Kinds,
				Keywords:   r.Filter.Keywords,
				Countries:  r.Filter.Countries,
				Categories: r.Filter.Categories,
				Years:      r.Filter.Years,
			},
		}
		n0 := len(ps)

		switch {
		case s.Name == "":
			add(sn.Line, p, "name is required")
		case names[s.Name] != 0:
			add(at("name"), p+".name", fmt.Sprintf("%q is already the name of the subscription on line %d", s.Name, names[s.Name]))
		default:
			names[s.Name] = at("name")
		}

		if s.URL == "" {
			add(sn.Line, p, "url is required")
		} else if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(at("url"), p+".url", fmt.Sprintf("%q is not an absolute http(s) URL", s.URL))
		}

		if s.Format == "" {
			s.Format = FormatJSON
		}
		if s.Format != FormatJSON && s.Format != FormatSlack {
			add(at("format"), p+".format", fmt.Sprintf("%q is not a format (json or slack)", s.Format))
		}

		if s.Operator {
			if s.Mode != "" {
				add(at("mode"), p+".mode", "operator subscriptions get one event per failed, suspect or blocked run; mode does not apply")
			}
			f := s.Filter
			if len(f.Kinds)+len(f.Keywords)+len(f.Countries)+len(f.Categories)+len(f.Years) > 0 {
				add(at("filter"), p+".filter", "operator subscriptions filter by sources only")
			}
		} else {
			if s.Mode == "" {
				s.Mode = ModeEach
			}
			if s.Mode != ModeEach && s.Mode != ModeDigest {
				add(at("mode"), p+".mode", fmt.Sprintf("%q is not a mode (each or digest)", s.Mode))
			}
			if len(s.Filter.Kinds) == 0 {
				s.Filter.Kinds = []string{store.KindAdded}
			}
			for _, k := range s.Filter.Kinds {
				switch k {
				case store.KindAdded, store.KindUpdated, store.KindRemoved, store.KindRestored:
				default:
					add(lineOf(valueOf(sn, "filter"), "kinds"), p+".filter.kinds", fmt.Sprintf("%q is not a change kind (added, updated, removed, restored)", k))
				}
			}
		}
		for _, y := range s.Filter.Years {
			if y < 1000 || y > 9999 {
				add(lineOf(valueOf(sn, "filter"), "years"), p+".filter.years", fmt.Sprintf("%d is not a four-digit year", y))
			}
		}

		switch {
		case s.SecretEnv != "" && s.SecretFile != "":
			add(at("secret_file"), p, "give secret_env or secret_file, not both")
		case s.SecretEnv != "":
			if !envNameRE.MatchString(s.SecretEnv) {
				add(at("secret_env"), p+".secret_env", fmt.Sprintf("%q is not an environment variable name", s.SecretEnv))
				break
			}
			v := strings.TrimSpace(getenv(s.SecretEnv))
			if v == "" {
				add(at("secret_env"), p+".secret_env", fmt.Sprintf("subscription %q: environment variable %s is not set or empty", s.Name, s.SecretEnv))
			}
			s.Secret = Secret(v)
		case s.SecretFile != "":
			sf := s.SecretFile
			if !filepath.IsAbs(sf) {
				sf = filepath.Join(dir, sf)
			}
			b, err := os.ReadFile(sf)
			v := strings.TrimSpace(string(b))
			switch {
			case err != nil:
				add(at("secret_file"), p+".secret_file", fmt.Sprintf("subscription %q: cannot read the secret: %v", s.Name, err))
			case v == "":
				add(at("secret_file"), p+".secret_file", fmt.Sprintf("subscription %q: secret file %s is empty", s.Name, sf))
			}
			s.Secret = Secret(v)
		case s.Format != FormatSlack:
			add(sn.Line, p, "a signing secret is required: set secret_env (an environment variable) or secret_file")
		}
		if s.Secret != "" {
			if _, err := signingKey(string(s.Secret)); err != nil {
				key := "secret_env"
				if s.SecretFile != "" {
					key = "secret_file"
				}
				add(at(key), p+"."+key, fmt.Sprintf("subscription %q: %v", s.Name, err))
			}
		}
		if len(ps) == n0 {
			subs = append(subs, s)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return subs, nil
}

// checkKeys reports every key of the mapping n not in known, and explains
// why an inline secret is refused.
func checkKeys(n *yaml.Node, known []string, path string, add func(int, string, string)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		key := join(path, k.Value)
		if seen[k.Value] {
			add(k.Line, key, "given twice")
			continue
		}
		seen[k.Value] = true
		if k.Value == "secret" && path != "" {
			add(k.Line, key, "secrets are never written in the alerts file (it ends up in backups and version control); "+
				"put the secret in an environment variable and name it with secret_env, or in a file named by secret_file")
			continue
		}
		ok := false
		for _, kn := range known {
			if kn == k.Value {
				ok = true
				break
			}
		}
		if !ok {
			sorted := append([]string(nil), known...)
			sort.Strings(sorted)
			add(k.Line, key, fmt.Sprintf("unknown key (known here: %s)", strings.Join(sorted, ", ")))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// valueOf returns the value node of key in the mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// lineOf returns the line of key in the mapping n, or n's own line.
func lineOf(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
		}
	}
	return n.Line
}

var (
	yamlLineRE       = regexp.MustCompile(`line (\d+)`)
	yamlLinePrefixRE = regexp.MustCompile(`(?m)^\s*line \d+: `)
)

// yamlMsg is a yaml.v3 error without its "yaml: line N:" prefix (the
// Problem carries the line).
func yamlMsg(err error) string {
	return yamlLinePrefixRE.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
}

func yamlErrLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// signingKey returns the HMAC key of a secret: the bytes of "whsec_"
// secrets base64-decoded, any other secret's bytes as they are.
func signingKey(secret string) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("empty signing secret")
	}
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("secret starts with whsec_ but the rest is not standard base64: %w", err)
		}
		if len(key) == 0 {
			return nil, errors.New("secret whsec_ holds no key bytes")
		}
		return key, nil
	}
	return []byte(secret), nil
}
