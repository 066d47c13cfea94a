package acmetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// counter wraps Pebble's WFE handler and counts the new-account and new-order
// requests the WFE answered 201 Created. The count is taken when the WFE
// writes its status line, before any byte of the response reaches the client,
// so a client that has seen the response always sees the updated counters.
type counter struct {
	next           http.Handler
	newAccountPath string
	newOrderPath   string

	mu       sync.Mutex
	accounts int
	nOrders  int
	names    []string // one entry per identifier per created order, lower-cased
}

// newCounter wraps next, learning the endpoint paths from its directory.
func newCounter(next http.Handler) (*counter, error) {
	acct, order, err := directoryPaths(next)
	if err != nil {
		return nil, err
	}
	return &counter{next: next, newAccountPath: acct, newOrderPath: order}, nil
}

// ServeHTTP implements http.Handler.
func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || (r.URL.Path != c.newAccountPath && r.URL.Path != c.newOrderPath) {
		c.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "acmetest: reading request body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	isOrder := r.URL.Path == c.newOrderPath
	sw := &statusWriter{ResponseWriter: w, onStatus: func(code int) {
		if code != http.StatusCreated {
			return
		}
		if !isOrder {
			c.mu.Lock()
			c.accounts++
			c.mu.Unlock()
			return
		}
		// The WFE accepted the JWS, so the payload parses; if it somehow
		// does not, the order still counts, without names.
		idents, _ := orderIdentifiers(body)
		c.mu.Lock()
		c.nOrders++
		c.names = append(c.names, idents...)
		c.mu.Unlock()
	}}
	c.next.ServeHTTP(sw, r)
}

func (c *counter) newAccounts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accounts
}

func (c *counter) orders() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nOrders
}

func (c *counter) ordersFor(name string) int {
	name = normalizeIdentifier(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.names {
		if v == name {
			n++
		}
	}
	return n
}

func (c *counter) orderedNames() []string {
	c.mu.Lock()
	names := slices.Clone(c.names)
	c.mu.Unlock()
	slices.Sort(names)
	return names
}

// statusWriter calls onStatus once with the response status, just before the
// status is passed on.
type statusWriter struct {
	http.ResponseWriter
	onStatus func(int)
	done     bool
}

// WriteHeader implements http.ResponseWriter.
func (s *statusWriter) WriteHeader(code int) {
	if !s.done && code >= 200 {
		s.done = true
		s.onStatus(code)
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (s *statusWriter) Write(p []byte) (int, error) {
	if !s.done {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// orderIdentifiers extracts the identifier values of a new-order request
// body: a JWS in flattened JSON serialisation (what RFC 8555 §6.2 requires)
// or, leniently, compact serialisation, whose payload is base64url JSON with
// an "identifiers" array. Values are lower-cased without a trailing dot.
func orderIdentifiers(body []byte) ([]string, error) {
	var payload64 string
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var jws struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(trimmed, &jws); err != nil {
			return nil, fmt.Errorf("decoding jws: %w", err)
		}
		payload64 = jws.Payload
	} else {
		parts := strings.Split(string(trimmed), ".")
		if len(parts) != 3 {
			return nil, errors.New("decoding jws: neither flattened json nor compact serialisation")
		}
		payload64 = parts[1]
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload64, "="))
	if err != nil {
		return nil, fmt.Errorf("decoding jws payload: %w", err)
	}
	var order struct {
		Identifiers []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"identifiers"`
	}
	if err := json.Unmarshal(payload, &order); err != nil {
		return nil, fmt.Errorf("decoding order payload: %w", err)
	}
	names := make([]string, 0, len(order.Identifiers))
	for _, id := range order.Identifiers {
		names = append(names, normalizeIdentifier(id.Value))
	}
	return names, nil
}

// normalizeIdentifier lower-cases name and drops trailing dots.
func normalizeIdentifier(name string) string {
	return strings.ToLower(strings.TrimRight(name, "."))
}
