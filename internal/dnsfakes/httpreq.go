package dnsfakes

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// HTTPReqRequest is one request received by the HTTPReq fake.
type HTTPReqRequest struct {
	// Action is "present" or "cleanup".
	Action string
	// Raw reports lego's RAW mode body ({"domain","token","keyAuth"}).
	Raw bool
	// FQDN and Value are the record (computed from KeyAuth in RAW mode).
	FQDN, Value string
	// Domain, Token and KeyAuth are set in RAW mode.
	Domain, Token, KeyAuth string
}

// HTTPReq is a server for lego's httpreq protocol: POST <prefix>/present and
// POST <prefix>/cleanup with a JSON body, either {"fqdn","value"} (default
// mode) or {"domain","token","keyAuth"} (RAW mode). When created with a
// username, requests must carry matching basic auth (else 401).
type HTTPReq struct {
	// URL is the endpoint to put in HTTPREQ_ENDPOINT.
	URL string

	srv        *httptest.Server
	sink       Sink
	user, pass string

	mu       sync.Mutex
	requests []HTTPReqRequest
	failures int
}

// NewHTTPReq starts the server on 127.0.0.1. An empty user disables the
// basic-auth check. sink may be nil.
func NewHTTPReq(t testing.TB, sink Sink, user, pass string) *HTTPReq {
	t.Helper()
	h := &HTTPReq{sink: sink, user: user, pass: pass}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	h.URL = h.srv.URL
	return h
}

// Requests returns the accepted requests, in order.
func (h *HTTPReq) Requests() []HTTPReqRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

// Rejected returns how many requests were refused (auth, method, body).
func (h *HTTPReq) Rejected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failures
}

func (h *HTTPReq) fail(w http.ResponseWriter, status int, msg string) {
	h.failures++
	http.Error(w, msg, status)
}

func (h *HTTPReq) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()

	if h.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(h.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(h.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="httpreq"`)
			h.fail(w, http.StatusUnauthorized, "unauthorized")
			return
		}
	}
	if r.Method != http.MethodPost {
		h.fail(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	var action string
	switch {
	case strings.HasSuffix(r.URL.Path, "/present"):
		action = "present"
	case strings.HasSuffix(r.URL.Path, "/cleanup"):
		action = "cleanup"
	default:
		h.fail(w, http.StatusNotFound, "not found")
		return
	}
	var body struct {
		FQDN    string `json:"fqdn"`
		Value   string `json:"value"`
		Domain  string `json:"domain"`
		Token   string `json:"token"`
		KeyAuth string `json:"keyAuth"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		h.fail(w, http.StatusBadRequest, "invalid JSON body")
		return
	}
	req := HTTPReqRequest{Action: action, FQDN: body.FQDN, Value: body.Value}
	switch {
	case body.KeyAuth != "":
		req.Raw = true
		req.Domain, req.Token, req.KeyAuth = body.Domain, body.Token, body.KeyAuth
		sum := sha256.Sum256([]byte(body.KeyAuth))
		req.Value = base64.RawURLEncoding.EncodeToString(sum[:])
		req.FQDN = "_acme-challenge." + strings.TrimPrefix(strings.TrimSuffix(body.Domain, "."), "*.") + "."
	case body.FQDN == "" || body.Value == "":
		h.fail(w, http.StatusBadRequest, "fqdn and value are required")
		return
	}
	h.requests = append(h.requests, req)
	if h.sink != nil {
		if action == "present" {
			h.sink.AddTXT(req.FQDN, req.Value)
		} else {
			h.sink.DeleteTXT(req.FQDN, req.Value)
		}
	}
	w.WriteHeader(http.StatusOK)
}
