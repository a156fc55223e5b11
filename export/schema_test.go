package export_test

import (
	"bufio"
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/store"
)

// compileSchema compiles docs/schema/NAME (with an optional #fragment),
// asserting formats such as date-time.
func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "docs", "schema"))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("schema %s: %v", name, err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return sch.Validate(v)
}

func validateLines(t *testing.T, sch *jsonschema.Schema, out []byte, want int) {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		n++
		if err := validate(t, sch, sc.Bytes()); err != nil {
			t.Errorf("line %d does not match the schema: %v", n, err)
		}
	}
	if n != want {
		t.Errorf("%d lines, want %d", n, want)
	}
}

func TestOutputMatchesDocumentedSchemas(t *testing.T) {
	ctx := context.Background()
	recs := &memStore{records: fixtureRecords(), changes: fixtureChanges()}
	opts := func(f string) export.Options { return export.Options{Format: f, Now: fixedNow} }

	var buf bytes.Buffer
	if _, err := export.WriteRecords(ctx, &buf, recs, store.RecordFilter{IncludeRemoved: true}, opts("json")); err != nil {
		t.Fatal(err)
	}
	recordsDoc := compileSchema(t, "records.schema.json")
	if err := validate(t, recordsDoc, buf.Bytes()); err != nil {
		t.Errorf("records JSON: %v", err)
	}
	// The schema is strict enough to catch drift: a year written as a
	// string, or a missing key, fails it.
	bad := strings.Replace(buf.String(), `"year":2024`, `"year":"2024"`, 1)
	if bad == buf.String() {
		t.Fatal("fixture lost its year")
	}
	if err := validate(t, recordsDoc, []byte(bad)); err == nil {
		t.Error("records schema accepts a string year")
	}
	if err := validate(t, recordsDoc, []byte(strings.Replace(buf.String(), `"content_hash":`, `"hash":`, 1))); err == nil {
		t.Error("records schema accepts a renamed key")
	}

	buf.Reset()
	if _, err := export.WriteRecords(ctx, &buf, recs, store.RecordFilter{IncludeRemoved: true}, opts("jsonl")); err != nil {
		t.Fatal(err)
	}
	validateLines(t, compileSchema(t, "records.schema.json#/$defs/record"), buf.Bytes(), 3)

	buf.Reset()
	if _, err := export.WriteChanges(ctx, &buf, recs, store.ChangeFilter{}, opts("json")); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, compileSchema(t, "changes.schema.json"), buf.Bytes()); err != nil {
		t.Errorf("changes JSON: %v", err)
	}
	buf.Reset()
	if _, err := export.WriteChanges(ctx, &buf, recs, store.ChangeFilter{}, opts("jsonl")); err != nil {
		t.Fatal(err)
	}
	changeLine := compileSchema(t, "changes.schema.json#/$defs/change")
	validateLines(t, changeLine, buf.Bytes(), 4)
	if err := validate(t, changeLine, []byte(strings.Replace(strings.SplitN(buf.String(), "\n", 2)[0], `"kind":"added"`, `"kind":"updated"`, 1))); err == nil {
		t.Error("changes schema accepts an update without fields")
	}

	// Empty exports are valid documents too.
	buf.Reset()
	if _, err := export.WriteChanges(ctx, &buf, &memStore{}, store.ChangeFilter{}, opts("json")); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, compileSchema(t, "changes.schema.json"), buf.Bytes()); err != nil {
		t.Errorf("empty changes JSON: %v", err)
	}
}
