package parser

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// months maps month names and abbreviations (English, Spanish, French,
// Portuguese, German), lower-case, to their number.
var months = buildMonths()

func buildMonths() map[string]int {
	months := map[string]int{}
	add := func(m int, names ...string) {
		for _, n := range names {
			months[n] = m
		}
	}
	add(1, "january", "jan", "enero", "ene", "janvier", "janv", "janeiro", "januar", "jän")
	add(2, "february", "feb", "febr", "febrero", "février", "fevrier", "févr", "fevr", "fév", "fevereiro", "fev", "februar")
	add(3, "march", "mar", "marzo", "mars", "março", "marco", "märz", "marz")
	add(4, "april", "apr", "abril", "abr", "avril", "avr")
	add(5, "may", "mayo", "mai", "maio")
	add(6, "june", "jun", "junio", "juin", "junho", "juni")
	add(7, "july", "jul", "julio", "juillet", "juil", "julho", "juli")
	add(8, "august", "aug", "agosto", "ago", "août", "aout")
	add(9, "september", "sep", "sept", "septiembre", "setiembre", "septembre", "setembro")
	add(10, "october", "oct", "octubre", "octobre", "outubro", "oktober", "okt")
	add(11, "november", "nov", "noviembre", "novembre", "novembro")
	add(12, "december", "dec", "diciembre", "dic", "décembre", "decembre", "déc", "dezembro", "dez", "dezember")
	return months
}

// monthAlt is a regexp alternation of the month names, longest first so
// that "sept" wins over "sep".
var monthAlt = func() string {
	names := make([]string, 0, len(months))
	for n := range months {
		names = append(names, regexp.QuoteMeta(n))
	}
	sort.Slice(names, func(i, j int) bool {
		if len(names[i]) != len(names[j]) {
			return len(names[i]) > len(names[j])
		}
		return names[i] < names[j]
	})
	return strings.Join(names, "|")
}()

// The date patterns, compiled on first use (three hold every month name
// and are large).
var (
	// 2019-03-12, 2019/03/12, 2019-03-12T10:00:00Z
	isoDateRE = lazyRegexp(`(?:^|[^\d])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[^\d])`)
	// 12 March 2019, 12. März 2019, 27 de enero de 2026, 1er mars 2019,
	// 12-Mar-2019 (DSpace, Oracle)
	dmyNameRE = lazyRegexp(`(?i)(?:^|[^\pL\d])(\d{1,2})(?:st|nd|rd|th|er|º|°)?\.?(?:\s+|-)(?:de\s+)?(` + monthAlt + `)\.?,?(?:\s+|-)(?:de\s+|del\s+)?(\d{4})(?:$|[^\d])`)
	// March 12, 2019; Jan. 16, 2025; Sept. 12, 2023
	mdyNameRE = lazyRegexp(`(?i)(?:^|[^\pL\d])(` + monthAlt + `)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?:$|[^\d])`)
	// 03/12/2019, 3/12/19, 12.03.2019
	numDateRE = lazyRegexp(`(?:^|[^\d/.-])(\d{1,2})([/.-])(\d{1,2})([/.-])(\d{4}|\d{2})(?:$|[^\d/.-])`)
	// March 2019, enero de 2026
	monthYearRE = lazyRegexp(`(?i)(?:^|[^\pL\d])(` + monthAlt + `)\.?,?\s+(?:de\s+|del\s+)?(\d{4})(?:$|[^\d])`)
	// 2019-03
	isoMonthRE = lazyRegexp(`(?:^|[^\d])(\d{4})-(\d{1,2})(?:$|[^\d])`)
	yearRE     = lazyRegexp(`(?:^|[^\d])(\d{4})(?:$|[^\d])`)
)

// ParseDate finds the first date in text and returns it as ISO 8601:
// YYYY-MM-DD, or YYYY-MM / YYYY when the text says no more. Day-first
// numeric dates are read when dmy is set (03/12/2019 is 3 December); a
// part above 12 settles the order by itself. ok is false when text holds
// no plausible date.
func ParseDate(text string, dmy bool) (iso string, ok bool) {
	type cand struct {
		pos int
		iso string
	}
	// Fast path: text that starts with an ISO date (a <time datetime>,
	// "2019-03-12T08:30:00Z") has its first date at position 0.
	if len(text) >= 10 && isDigits(text[0:4]) && text[4] == '-' && isDigits(text[5:7]) && text[7] == '-' && isDigits(text[8:10]) &&
		(len(text) == 10 || !isDigit(text[10])) {
		if y, m, d := atoi(text[0:4]), atoi(text[5:7]), atoi(text[8:10]); validDate(y, m, d) {
			return text[0:10], true
		}
	}
	var best *cand
	consider := func(pos int, y, m, d int) {
		if !validDate(y, m, d) {
			return
		}
		if best == nil || pos < best.pos {
			best = &cand{pos, fmt.Sprintf("%04d-%02d-%02d", y, m, d)}
		}
	}
	for _, m := range isoDateRE().FindAllStringSubmatchIndex(text, -1) {
		consider(m[2], atoi(text[m[2]:m[3]]), atoi(text[m[4]:m[5]]), atoi(text[m[6]:m[7]]))
	}
	for _, m := range dmyNameRE().FindAllStringSubmatchIndex(text, -1) {
		consider(m[2], atoi(text[m[6]:m[7]]), months[strings.ToLower(text[m[4]:m[5]])], atoi(text[m[2]:m[3]]))
	}
	for _, m := range mdyNameRE().FindAllStringSubmatchIndex(text, -1) {
		consider(m[2], atoi(text[m[6]:m[7]]), months[strings.ToLower(text[m[2]:m[3]])], atoi(text[m[4]:m[5]]))
	}
	for _, m := range numDateRE().FindAllStringSubmatchIndex(text, -1) {
		if text[m[4]:m[5]] != text[m[8]:m[9]] {
			continue // 3/12-19: mixed separators are not a date
		}
		a, b, y := atoi(text[m[2]:m[3]]), atoi(text[m[6]:m[7]]), atoi(text[m[10]:m[11]])
		if m[11]-m[10] == 2 {
			y = pivotYear(y)
		}
		mo, d := a, b
		if dmy {
			mo, d = b, a
		}
		if mo > 12 && d <= 12 {
			mo, d = d, mo
		}
		consider(m[2], y, mo, d)
	}
	if best != nil {
		return best.iso, true
	}
	// Month and year only.
	for _, m := range monthYearRE().FindAllStringSubmatchIndex(text, -1) {
		y, mo := atoi(text[m[4]:m[5]]), months[strings.ToLower(text[m[2]:m[3]])]
		if plausibleYear(y) && mo >= 1 {
			if best == nil || m[2] < best.pos {
				best = &cand{m[2], fmt.Sprintf("%04d-%02d", y, mo)}
			}
		}
	}
	for _, m := range isoMonthRE().FindAllStringSubmatchIndex(text, -1) {
		y, mo := atoi(text[m[2]:m[3]]), atoi(text[m[4]:m[5]])
		if plausibleYear(y) && mo >= 1 && mo <= 12 {
			if best == nil || m[2] < best.pos {
				best = &cand{m[2], fmt.Sprintf("%04d-%02d", y, mo)}
			}
		}
	}
	if best != nil {
		return best.iso, true
	}
	if y, ok := FirstYear(text); ok {
		return fmt.Sprintf("%04d", y), true
	}
	return "", false
}

// FirstYear returns the first plausible four-digit year (1000..2100) in
// text that is not part of a longer number.
func FirstYear(text string) (int, bool) {
	rest := text
	for {
		m := yearRE().FindStringSubmatchIndex(rest)
		if m == nil {
			return 0, false
		}
		if y := atoi(rest[m[2]:m[3]]); plausibleYear(y) {
			return y, true
		}
		// Step past the digits (the match may have eaten the separator
		// that starts the next year).
		rest = rest[m[3]:]
	}
}

// FirstInt returns the first integer in text, reading thousands
// separators ("1,234", "1.234", "1 234") as part of the number.
func FirstInt(text string) (int, bool) {
	i := strings.IndexAny(text, "0123456789")
	if i < 0 {
		return 0, false
	}
	j := i
	for j < len(text) && isDigit(text[j]) {
		j++
	}
	digits := text[i:j]
	if j-i <= 3 {
		// Groups of exactly three digits after a separator.
		for {
			sep := 0
			switch {
			case j < len(text) && (text[j] == ',' || text[j] == '.' || text[j] == ' ' || text[j] == '\''):
				sep = 1
			case strings.HasPrefix(text[j:], "\u00a0"):
				sep = len("\u00a0")
			case strings.HasPrefix(text[j:], "\u202f"):
				sep = len("\u202f")
			}
			k := j + sep
			if sep == 0 || k+3 > len(text) || !isDigit(text[k]) || !isDigit(text[k+1]) || !isDigit(text[k+2]) || (k+3 < len(text) && isDigit(text[k+3])) {
				break
			}
			digits += text[k : k+3]
			j = k + 3
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, false
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func plausibleYear(y int) bool { return y >= 1000 && y <= 2100 }

// pivotYear reads a two-digit year: 00-69 as 2000-2069, 70-99 as 1970-1999.
func pivotYear(y int) int {
	if y < 70 {
		return 2000 + y
	}
	return 1900 + y
}

func validDate(y, m, d int) bool {
	if !plausibleYear(y) || m < 1 || m > 12 || d < 1 || d > 31 {
		return false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t.Day() == d && int(t.Month()) == m
}
