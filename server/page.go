package server

import (
	"html/template"
	"net/http"
	"time"

	"github.com/harvest-dev/harvest/store"
)

var indexTmpl = template.Must(template.New("index").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 MST")
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>harvest</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}.complete{color:#176d2b}.failed,.blocked,.error{color:#a01616}.partial,.suspect{color:#8a5a00}small{color:#666}
</style></head><body>
<h1>harvest</h1>
<h2>Sources</h2>
<table><tr><th>Source</th><th>Schedule</th><th>State</th><th>Next run</th><th>Last run</th><th>Records</th><th>Feeds</th></tr>
{{range .Sources}}<tr><td><b>{{.Source}}</b>{{if .Name}}<br><small>{{.Name}}</small>{{end}}</td>
<td>{{.Schedule}}</td><td>{{.State}}{{if .Note}}<br><small>{{.Note}}</small>{{end}}</td>
<td>{{when .NextDue}}</td>
<td>{{with .LastRun}}<a href="api/runs/{{.ID}}">#{{.ID}}</a> <span class="{{.Status}}">{{.Status}}</span><br><small>{{when .FinishedAt}} · +{{.Added}} ~{{.Updated}} −{{.Removed}}</small>{{else}}—{{end}}</td>
<td>{{.Records}}</td>
<td><a href="feeds/{{.Source}}.atom">Atom</a> · <a href="feeds/{{.Source}}.json">JSON</a></td></tr>
{{else}}<tr><td colspan="7">No sources yet.</td></tr>{{end}}
</table>
<h2>Recent runs</h2>
<table><tr><th>Run</th><th>Source</th><th>Status</th><th>Finished</th><th>Pages</th><th>Added</th><th>Updated</th><th>Removed</th></tr>
{{range .Runs}}<tr><td><a href="api/runs/{{.ID}}">#{{.ID}}</a></td><td>{{.Source}}</td><td class="{{.Status}}">{{.Status}}{{if .Reason}}<br><small>{{.Reason}}</small>{{end}}</td>
<td>{{when .FinishedAt}}</td><td>{{.Pages}}{{if .PagesFailed}} ({{.PagesFailed}} failed){{end}}</td><td>{{.Added}}</td><td>{{.Updated}}</td><td>{{.Removed}}</td></tr>
{{else}}<tr><td colspan="8">No runs yet.</td></tr>{{end}}
</table>
<h2>Downloads</h2>
<p>Records: <a href="export/records.csv">CSV</a> · <a href="export/records.json">JSON</a> · <a href="export/records.jsonl">JSON Lines</a><br>
Changes: <a href="export/changes.csv">CSV</a> · <a href="export/changes.json">JSON</a> · <a href="export/changes.jsonl">JSON Lines</a><br>
New publications: <a href="feeds/all.atom">Atom</a> · <a href="feeds/all.json">JSON Feed</a></p>
<p><small>API: <a href="api/sources">/api/sources</a>, <a href="api/runs">/api/runs</a>, <a href="api/records">/api/records</a>, <a href="api/changes">/api/changes</a>, <a href="metrics">/metrics</a>. Generated {{when .Now}}.</small></p>
</body></html>
`))

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	vs, err := s.sourceViews(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	runs, err := s.cfg.Store.RunsBefore(r.Context(), "", 0, 20)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data := struct {
		Sources []sourceView
		Runs    []store.Run
		Now     time.Time
	}{vs, runs, s.cfg.Now()}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexTmpl.Execute(w, data); err != nil {
		s.log.Error("render index", "err", err)
	}
}
