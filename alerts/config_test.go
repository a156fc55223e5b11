package alerts

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testEnv is the environment the testdata files are loaded with.
func testEnv(name string) string {
	return map[string]string{
		"HARVEST_HOOK_SECRET": "s3cret",
		"HARVEST_OPS_SECRET":  "ops-secret",
		"WHSEC_SECRET":        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"BAD_WHSEC":           "whsec_not*base64",
	}[name]
}

func TestLoadSubscriptionsTestdata(t *testing.T) {
	good, _ := filepath.Glob("testdata/*.good.yaml")
	bad, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(good) == 0 || len(bad) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range good {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadSubscriptions(f, testEnv); err != nil {
				t.Fatalf("want no error, got:\n%v", err)
			}
		})
	}
	for _, f := range bad {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wantLine(t, f)
			subs, err := LoadSubscriptions(f, testEnv)
			if err == nil {
				t.Fatalf("want an error containing %q, got %d subscriptions", want, len(subs))
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error\n%v\ndoes not contain\n%s", err, want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error repeats the inline secret: %v", err)
			}
		})
	}
}

// wantLine reads the "# want: ..." first line of a bad testdata file.
func wantLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	want, ok := strings.CutPrefix(sc.Text(), "# want: ")
	if !ok || want == "" {
		t.Fatalf("%s: first line must be '# want: <error text>'", path)
	}
	return want
}

func TestLoadSubscriptionsValues(t *testing.T) {
	subs, err := LoadSubscriptions("testdata/design-example.good.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 2 {
		t.Fatalf("got %d subscriptions, want 2", len(subs))
	}
	mx, ops := subs[0], subs[1]
	if mx.Name != "new-in-mexico" || mx.URL != "https://hooks.example.org/harvest" || string(mx.Secret) != "s3cret" ||
		mx.SecretEnv != "HARVEST_HOOK_SECRET" || mx.Format != FormatJSON || mx.Mode != ModeEach || mx.AllowPrivateNetworks || mx.Operator {
		t.Errorf("new-in-mexico loaded as %+v", mx)
	}
	if !slices.Equal(mx.Filter.Sources, []string{"iom-trafficking"}) || !slices.Equal(mx.Filter.Kinds, []string{"added"}) ||
		!slices.Equal(mx.Filter.Keywords, []string{"trafficking"}) || !slices.Equal(mx.Filter.Countries, []string{"Mexico"}) ||
		len(mx.Filter.Categories) != 0 || len(mx.Filter.Years) != 0 {
		t.Errorf("new-in-mexico filter loaded as %+v", mx.Filter)
	}
	if !ops.Operator || string(ops.Secret) != "ops-secret" || ops.Format != FormatJSON || ops.Line != 16 {
		t.Errorf("ops loaded as %+v", ops)
	}

	subs, err = LoadSubscriptions("testdata/secrets.good.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Subscription{}
	for _, s := range subs {
		byName[s.Name] = s
	}
	if s := byName["from-file"]; string(s.Secret) != "file-secret" || s.Mode != ModeDigest || !s.AllowPrivateNetworks ||
		!slices.Equal(s.Filter.Kinds, []string{"added", "restored"}) || !slices.Equal(s.Filter.Years, []int{2024, 2025}) {
		t.Errorf("from-file loaded as %+v", s)
	}
	if s := byName["standard-webhooks"]; string(s.Secret) != testEnv("WHSEC_SECRET") {
		t.Errorf("standard-webhooks secret not taken from WHSEC_SECRET")
	}
	if s := byName["slack-unsigned"]; s.Secret != "" || s.Format != FormatSlack || !slices.Equal(s.Filter.Kinds, []string{"added"}) {
		t.Errorf("slack-unsigned loaded as %+v", s)
	}
	if s := byName["ops-slack"]; !s.Operator || s.Format != FormatSlack || s.Mode != "" || len(s.Filter.Kinds) != 0 {
		t.Errorf("ops-slack loaded as %+v", s)
	}
}

func TestLoadSubscriptionsReportsEveryProblem(t *testing.T) {
	data := "subscriptions:\n" +
		"  - name: a\n    url: nope\n    secret_env: HARVEST_HOOK_SECRET\n" +
		"  - name: b\n    url: https://x.example/\n    secret_env: UNSET_VAR\n"
	_, err := parseSubscriptions("alerts.yaml", []byte(data), testEnv)
	ps, ok := err.(Problems)
	if !ok || len(ps) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if ps[0].Line != 3 || ps[1].Line != 7 {
		t.Errorf("problem lines %d, %d; want 3, 7", ps[0].Line, ps[1].Line)
	}
	if !strings.Contains(ps[1].Msg, `"b"`) || !strings.Contains(ps[1].Msg, "UNSET_VAR") {
		t.Errorf("missing variable problem must name the subscription and the variable: %s", ps[1].Msg)
	}
}

func TestLoadSubscriptionsMissingFile(t *testing.T) {
	_, err := LoadSubscriptions(filepath.Join(t.TempDir(), "alerts.yaml"), testEnv)
	if err == nil || !strings.Contains(err.Error(), "alerts.yaml") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := Subscription{Name: "x", Secret: "hunter2"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("sub", "s", s, "secret", s.Secret)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), b.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if string(s.Secret) != "hunter2" {
		t.Fatal("string conversion must give the secret")
	}
}
