package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodeList decodes what jsonList writes, and any other JSON array of
// strings, as encoding/json does.
func TestDecodeListAsJSON(t *testing.T) {
	lists := [][]string{
		nil, {}, {""}, {"https://example.int/a", "https://example.int/b?page=1"},
		{"a&b", "<x>", `quo"te`, `back\slash`, "tab\there", "ñandú 日本", "\u2028"},
		{"https://example.int/x", "", "y"},
	}
	var inputs []string
	for _, l := range lists {
		j, err := jsonList(l)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, j)
	}
	inputs = append(inputs, `[ "a" , "b" ]`, `null`, "[\"\xff\"]", `["a",]`, `["a"`, `[,]`, `["a""b"]`, `[1]`, `[]`, `["\u0041"]`, `"a"`, ``)
	for _, in := range inputs {
		got, gotErr := decodeList(in)
		var want []string
		wantErr := json.Unmarshal([]byte(in), &want)
		if (gotErr != nil) != (wantErr != nil) {
			t.Errorf("%q: error %v, encoding/json %v", in, gotErr, wantErr)
			continue
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%q: %q, encoding/json %q", in, got, want)
		}
	}
}
