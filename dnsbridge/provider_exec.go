package dnsbridge

// exec: native implementation of lego's providers/dns/exec (no libdns
// equivalent exists).

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/libdns/libdns"
	"go.uber.org/zap"
)

const (
	execNS      = "EXEC_"
	execEnvPath = execNS + "PATH"
	execEnvMode = execNS + "MODE"
	execEnvSeq  = execNS + "SEQUENCE_INTERVAL"
)

func init() {
	register(Spec{
		Code:       "exec",
		Namespaces: []string{execNS},
		Required:   [][]string{{execEnvPath}},
		Optional: append([]string{execEnvMode},
			timingVars([]string{execNS}, "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "SEQUENCE_INTERVAL")...),
		FileVars:   true,
		Sequential: true,
		Defaults:   Timing{PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Notes: "Native implementation. Default mode runs `EXEC_PATH present|cleanup <fqdn> <value>` " +
			"(fqdn is `_acme-challenge.<domain>.`). `EXEC_MODE=RAW` runs `EXEC_PATH present|cleanup -- <domain> <token> <keyAuth>` " +
			"like lego; the `traefik` issuer hands the ACME data to the provider, other callers must attach it " +
			"with `dnsbridge.WithChallengeInfo`, otherwise RAW fails with an error naming `EXEC_MODE`. " +
			"Like lego (`Sequential()`), one challenge at a time per TXT name, `EXEC_SEQUENCE_INTERVAL` seconds apart " +
			"(default 60), also across certificates (a wildcard and its apex). " +
			"Propagation is polled every 2 s whatever `EXEC_POLLING_INTERVAL` says (certmagic's fixed interval). " +
			"lego follows `_acme-challenge` CNAMEs; this provider uses the name it is given.",
	}, buildExec)
}

func buildExec(e *envReader, opts Options) (Provider, error) {
	program := e.require(execEnvPath)
	raw := false
	switch mode := e.first(execEnvMode); mode {
	case "":
	case "RAW":
		raw = true
	default:
		e.failf("%s must be RAW or unset, got %q", execEnvMode, mode)
	}
	// lego: env.GetOrDefaultSecond(EXEC_SEQUENCE_INTERVAL, 60 s).
	interval := seconds(60)
	if e.isSet(execEnvSeq) {
		interval = e.seconds(execEnvSeq)
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return Sequential(&execProvider{code: e.code, program: program, raw: raw, log: e.log, rawMem: rawMemory{modeVar: execEnvMode}}, e.code, interval, e.log), nil
}

// execProvider runs an external program for every record, like lego's exec
// provider. It is safe for concurrent use.
type execProvider struct {
	code    string
	program string
	raw     bool
	log     *zap.Logger
	rawMem  rawMemory
}

// AppendRecords runs "program present …" for each TXT record.
func (p *execProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	txts, err := txtRecords(p.code, zone, recs)
	if err != nil {
		return nil, err
	}
	var done []libdns.Record
	for i, r := range txts {
		args := []string{"present", r.fqdn, r.value}
		if p.raw {
			ci, err := p.rawMem.forPresent(ctx, p.code, r)
			if err != nil {
				return done, err
			}
			args = []string{"present", "--", ci.Domain, ci.Token, ci.KeyAuth}
		}
		if err := p.run(ctx, args); err != nil {
			if p.raw {
				p.rawMem.forget(r)
			}
			return done, err
		}
		done = append(done, recs[i])
	}
	return done, nil
}

// DeleteRecords runs "program cleanup …" for each TXT record.
func (p *execProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	txts, err := txtRecords(p.code, zone, recs)
	if err != nil {
		return nil, err
	}
	var done []libdns.Record
	for i, r := range txts {
		args := []string{"cleanup", r.fqdn, r.value}
		if p.raw {
			ci, err := p.rawMem.forCleanup(ctx, p.code, r)
			if err != nil {
				return done, err
			}
			args = []string{"cleanup", "--", ci.Domain, ci.Token, ci.KeyAuth}
		}
		if err := p.run(ctx, args); err != nil {
			return done, err
		}
		done = append(done, recs[i])
	}
	return done, nil
}

// maxOutput bounds how much program output is quoted in an error.
const maxOutput = 1024

func (p *execProvider) run(ctx context.Context, args []string) error {
	cmd := exec.CommandContext(ctx, p.program, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	output := strings.TrimSpace(out.String())
	for _, line := range strings.Split(output, "\n") {
		if line != "" {
			p.log.Info("exec program output", zap.String("action", args[0]), zap.String("line", line))
		}
	}
	if err != nil {
		// In RAW mode the arguments include the key authorization, which is
		// not secret in the credential sense but is kept out of errors anyway.
		if len(output) > maxOutput {
			output = output[len(output)-maxOutput:]
		}
		if output != "" {
			return fmt.Errorf("%s: running %s %s: %w; output: %s", p.code, p.program, args[0], err, output)
		}
		return fmt.Errorf("%s: running %s %s: %w", p.code, p.program, args[0], err)
	}
	return nil
}
