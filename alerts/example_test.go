package alerts_test

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/harvest-dev/harvest/alerts"
)

// A receiver checks each delivery before trusting it, and de-duplicates on
// the webhook-id header (the same on every retry of one event).
func ExampleVerify() {
	secret := os.Getenv("HARVEST_HOOK_SECRET")
	http.HandleFunc("/harvest", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := alerts.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// ... handle body once per r.Header.Get("webhook-id") ...
		w.WriteHeader(http.StatusNoContent)
	})
}
