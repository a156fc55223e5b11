package alerts

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The published Standard Webhooks test vector: a receiver's existing
// library must accept what harvest signs.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := Sign(vectorSecret, vectorID, time.Unix(vectorTS, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSig {
		t.Fatalf("Sign = %s, want %s", got, vectorSig)
	}
}

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestVerify(t *testing.T) {
	now := time.Unix(vectorTS, 0)
	body := []byte(vectorBody)
	rawSig, err := Sign("plain secret", "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"vector", vectorSecret, headers(vectorID, vectorTS, vectorSig), vectorBody, now, nil},
		{"several signatures, one good", vectorSecret, headers(vectorID, vectorTS, "v1,bm9wZQ== v2,xyz "+vectorSig), vectorBody, now, nil},
		{"raw secret", "plain secret", headers("evt_1", vectorTS, rawSig), vectorBody, now, nil},
		{"within tolerance", vectorSecret, headers(vectorID, vectorTS, vectorSig), vectorBody, now.Add(4 * time.Minute), nil},
		{"tampered body", vectorSecret, headers(vectorID, vectorTS, vectorSig), `{"test": 2432232315}`, now, ErrSignature},
		{"other id", vectorSecret, headers("msg_other", vectorTS, vectorSig), vectorBody, now, ErrSignature},
		{"wrong secret", "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", headers(vectorID, vectorTS, vectorSig), vectorBody, now, ErrSignature},
		{"whsec secret used raw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers(vectorID, vectorTS, vectorSig), vectorBody, now, ErrSignature},
		{"only other versions", vectorSecret, headers(vectorID, vectorTS, "v1a,"+vectorSig[3:]), vectorBody, now, ErrSignature},
		{"too old", vectorSecret, headers(vectorID, vectorTS, vectorSig), vectorBody, now.Add(6 * time.Minute), ErrTimestamp},
		{"from the future", vectorSecret, headers(vectorID, vectorTS, vectorSig), vectorBody, now.Add(-6 * time.Minute), ErrTimestamp},
		{"missing signature", vectorSecret, headers(vectorID, vectorTS, ""), vectorBody, now, ErrMissingHeaders},
		{"missing id", vectorSecret, headers("", vectorTS, vectorSig), vectorBody, now, ErrMissingHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.h, []byte(tt.body), tt.now, 0)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	h := headers(vectorID, vectorTS, vectorSig)
	h.Set("webhook-timestamp", "yesterday")
	if err := Verify(vectorSecret, h, body, now, time.Minute); !errors.Is(err, ErrTimestamp) {
		t.Errorf("non-numeric timestamp: %v", err)
	}
}

func TestSignBadSecrets(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_%%%"} {
		if _, err := Sign(s, "id", time.Unix(0, 0), nil); err == nil {
			t.Errorf("Sign with secret %q: want an error", s)
		}
	}
}
