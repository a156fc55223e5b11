package parser

import "testing"

func TestParseDate(t *testing.T) {
	cases := []struct {
		in   string
		dmy  bool
		want string
	}{
		{"2019-03-12", false, "2019-03-12"},
		{"2019-03-12T08:30:00+02:00", false, "2019-03-12"},
		{"2019/3/2", false, "2019-03-02"},
		{"12 March 2019", false, "2019-03-12"},
		{"12th March, 2019", false, "2019-03-12"},
		{"March 12, 2019", false, "2019-03-12"},
		{"Jan. 16, 2025", false, "2025-01-16"},
		{"Sept. 12, 2023", false, "2023-09-12"},
		{"SEP 1 2023", false, "2023-09-01"},
		{"March 2019", false, "2019-03"},
		{"enero de 2026", false, "2026-01"},
		{"03/12/2019", false, "2019-03-12"},
		{"03/12/2019", true, "2019-12-03"},
		{"3/12/19", false, "2019-03-12"},
		{"3/12/19", true, "2019-12-03"},
		{"25/12/2019", false, "2019-12-25"}, // a part above 12 settles the order
		{"12.03.2019", true, "2019-03-12"},
		{"27 de enero de 2026", false, "2026-01-27"},
		{"1 de septiembre del 2020", false, "2020-09-01"},
		{"12 mars 2019", false, "2019-03-12"},
		{"12-Mar-2019", false, "2019-03-12"},
		{"1-Sep-2020", true, "2020-09-01"},
		{"1er février 2021", false, "2021-02-01"},
		{"12 décembre 2019", false, "2019-12-12"},
		{"3. März 2020", false, "2020-03-03"},
		{"Published on 12 March 2019 (updated 2020-01-05)", false, "2019-03-12"},
		{"Report, 2017", false, "2017"},
		{"2019-02-30", false, "2019-02"}, // no such day: month and year stand
		{"February 29, 2023", false, "2023"},
		{"February 29, 2024", false, "2024-02-29"},
		{"no date", false, ""},
		{"Page 12 of 34", false, ""},
		{"ISBN 9781234567890", false, ""},
	}
	for _, c := range cases {
		got, ok := ParseDate(c.in, c.dmy)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("ParseDate(%q, dmy=%v) = %q, %v; want %q", c.in, c.dmy, got, ok, c.want)
		}
	}
}

func TestFirstYear(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{"2019", 2019},
		{"Published 1998/99", 1998},
		{"No. 12345 of 2001", 2001},
		{"9999 then 0999 then 2101 then 1066", 1066},
		{"page 12", 0},
		{"", 0},
	}
	for _, c := range cases {
		got, ok := FirstYear(c.in)
		if got != c.want || ok != (c.want != 0) {
			t.Errorf("FirstYear(%q) = %d, %v; want %d", c.in, got, ok, c.want)
		}
	}
}

func TestFirstInt(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"345", 345, true},
		{"of 1,234 results", 1234, true},
		{"1.234.567 Ergebnisse", 1234567, true},
		{"1\u00a0204 pages", 1204, true},
		{"12,34", 12, true},
		{"1,2345", 1, true},
		{"5 - 0", 5, true},
		{"none", 0, false},
	}
	for _, c := range cases {
		got, ok := FirstInt(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("FirstInt(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
