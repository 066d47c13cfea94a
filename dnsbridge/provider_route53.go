package dnsbridge

// route53: libdns/route53 v1.6.2. lego: providers/dns/route53.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/libdns/route53"
)

const (
	route53NS = "AWS_"

	route53EnvAccessKeyID     = route53NS + "ACCESS_KEY_ID"
	route53EnvSecretAccessKey = route53NS + "SECRET_ACCESS_KEY"
	route53EnvSessionToken    = route53NS + "SESSION_TOKEN"
	route53EnvRegion          = route53NS + "REGION"
	route53EnvProfile         = route53NS + "PROFILE"
	route53EnvConfigFile      = route53NS + "CONFIG_FILE"
	route53EnvCredentialsFile = route53NS + "SHARED_CREDENTIALS_FILE"
	route53EnvSDKLoadConfig   = route53NS + "SDK_LOAD_CONFIG"
	route53EnvHostedZoneID    = route53NS + "HOSTED_ZONE_ID"
	route53EnvMaxRetries      = route53NS + "MAX_RETRIES"
	route53EnvWaitForChanges  = route53NS + "WAIT_FOR_RECORD_SETS_CHANGED"
	route53EnvAssumeRoleARN   = route53NS + "ASSUME_ROLE_ARN"
	route53EnvExternalID      = route53NS + "EXTERNAL_ID"
	route53EnvPrivateZone     = route53NS + "PRIVATE_ZONE"

	// route53ConfigTimeout bounds the validation of the AWS configuration.
	route53ConfigTimeout = 10 * time.Second
)

func init() {
	ns := []string{route53NS}
	register(Spec{
		Code:       "route53",
		Namespaces: ns,
		// Credentials come from the AWS SDK chain (env keys, shared files,
		// profile, instance role), so nothing is strictly required.
		Required: nil,
		Optional: append([]string{
			route53EnvAccessKeyID, route53EnvSecretAccessKey, route53EnvSessionToken,
			route53EnvRegion, route53EnvProfile, route53EnvConfigFile, route53EnvCredentialsFile,
			route53EnvHostedZoneID, route53EnvMaxRetries, route53EnvWaitForChanges,
			route53EnvAssumeRoleARN, route53EnvExternalID, route53EnvPrivateZone, route53EnvSDKLoadConfig,
		}, timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL")...),
		FileVars: true,
		Defaults: Timing{TTL: seconds(10), PropagationTimeout: seconds(120), PollingInterval: seconds(4)},
		Module:   "github.com/libdns/route53",
		Notes: "Credentials come from the AWS SDK chain. The SDK variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, " +
			"`AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_PROFILE`, `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`) have no `_FILE` form, " +
			"as in lego; `AWS_HOSTED_ZONE_ID` and the tuning variables do. The profile is checked before use because the libdns " +
			"provider would abort the process on a bad one. `AWS_WAIT_FOR_RECORD_SETS_CHANGED` defaults to true and waits up to " +
			"the propagation timeout. `AWS_ASSUME_ROLE_ARN`/`AWS_EXTERNAL_ID` are rejected (use a profile with `role_arn`), " +
			"`AWS_PRIVATE_ZONE=true` needs `AWS_HOSTED_ZONE_ID`. `AWS_SDK_LOAD_CONFIG` is meaningless to SDK v2 and ignored.",
	}, buildRoute53)
}

func buildRoute53(e *envReader, _ Options) (Provider, error) {
	p := &route53.Provider{
		Region:          e.plain(route53EnvRegion),
		Profile:         e.plain(route53EnvProfile),
		AccessKeyId:     e.plain(route53EnvAccessKeyID),
		SecretAccessKey: e.plain(route53EnvSecretAccessKey),
		SessionToken:    e.plain(route53EnvSessionToken),
		HostedZoneID:    strings.TrimPrefix(e.first(route53EnvHostedZoneID), "/hostedzone/"),
		// lego default: true.
		WaitForRoute53Sync: e.boolean(true, route53EnvWaitForChanges),
		// lego waits for INSYNC up to the propagation timeout.
		Route53MaxWait: e.tm.WithDefaults(e.spec.Defaults).PropagationTimeout,
		MaxRetries:     5,
	}
	if n, ok := e.integer(route53EnvMaxRetries); ok {
		if n < 0 {
			e.failf("parsing %s: must not be negative, got %d", route53EnvMaxRetries, n)
		} else if n > 0 {
			p.MaxRetries = n
		}
	}

	// lego's createAWSConfigCheckParams.
	switch {
	case p.SessionToken != "" && p.AccessKeyId == "" && p.SecretAccessKey == "":
		e.failf("%s must be supplied with %s and %s", route53EnvSessionToken, route53EnvAccessKeyID, route53EnvSecretAccessKey)
	case (p.AccessKeyId == "") != (p.SecretAccessKey == ""):
		e.failf("%s and %s must be supplied together", route53EnvAccessKeyID, route53EnvSecretAccessKey)
	}

	if e.isSet(route53EnvAssumeRoleARN) || e.isSet(route53EnvExternalID) {
		e.failf("%s/%s are not supported by the libdns Route 53 provider; define a profile with role_arn "+
			"(and external_id, source_profile) in the AWS config file and set %s instead",
			route53EnvAssumeRoleARN, route53EnvExternalID, route53EnvProfile)
	}
	for _, n := range []string{route53EnvConfigFile, route53EnvCredentialsFile} {
		if _, inline := e.opts.Overrides[n]; inline {
			e.failf("%s cannot be an inline override: the AWS SDK reads it from the process environment", n)
		}
	}
	if e.boolean(false, route53EnvPrivateZone) && p.HostedZoneID == "" {
		e.failf("%s=true is not supported without %s: the libdns Route 53 provider picks public zones by name; "+
			"set %s to the private zone's ID", route53EnvPrivateZone, route53EnvHostedZoneID, route53EnvHostedZoneID)
	}
	if err := e.err(); err != nil {
		return nil, err
	}

	if err := checkAWSConfig(e, p); err != nil {
		return nil, err
	}
	return p, nil
}

// checkAWSConfig rejects configurations on which the libdns provider would
// call log.Fatalf (its config loading failure path), killing the process:
// first a readable check that the named profile exists, then the SDK's own
// LoadDefaultConfig with the options the provider will use.
func checkAWSConfig(e *envReader, p *route53.Provider) error {
	if p.Profile != "" {
		configFile, credFile := awsSharedFiles(e)
		found, err := awsProfileExists(p.Profile, configFile, credFile)
		if err != nil {
			return fmt.Errorf("%s: checking AWS profile %q: %w", e.code, p.Profile, err)
		}
		if !found {
			return fmt.Errorf("%s: AWS profile %q (from %s) does not exist in %s or %s; "+
				"define it there or point %s/%s at the right files",
				e.code, p.Profile, route53EnvProfile, configFile, credFile, route53EnvConfigFile, route53EnvCredentialsFile)
		}
	}

	var opts []func(*awsconfig.LoadOptions) error
	if p.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(p.Profile))
	}
	if p.Region != "" {
		opts = append(opts, awsconfig.WithRegion(p.Region))
	}
	if p.AccessKeyId != "" && p.SecretAccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(p.AccessKeyId, p.SecretAccessKey, p.SessionToken)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), route53ConfigTimeout)
	defer cancel()
	if _, err := awsconfig.LoadDefaultConfig(ctx, opts...); err != nil {
		var notExist awsconfig.SharedConfigProfileNotExistError
		if errors.As(err, &notExist) {
			return fmt.Errorf("%s: AWS profile %q does not exist in the shared AWS files: %w", e.code, notExist.Profile, err)
		}
		return fmt.Errorf("%s: loading AWS SDK configuration: %w", e.code, err)
	}
	return nil
}

// awsSharedFiles returns the config and credentials file paths the SDK
// reads, honouring AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE.
func awsSharedFiles(e *envReader) (configFile, credFile string) {
	home, _ := os.UserHomeDir()
	configFile = e.plain(route53EnvConfigFile)
	if configFile == "" {
		configFile = filepath.Join(home, ".aws", "config")
	}
	credFile = e.plain(route53EnvCredentialsFile)
	if credFile == "" {
		credFile = filepath.Join(home, ".aws", "credentials")
	}
	return configFile, credFile
}

// awsProfileExists reports whether profile has a section in the config
// file ("[profile NAME]", or "[NAME]") or the credentials file ("[NAME]").
// Missing files count as empty, like in the SDK.
func awsProfileExists(profile, configFile, credFile string) (bool, error) {
	for _, f := range []struct {
		path   string
		config bool
	}{{configFile, true}, {credFile, false}} {
		sections, err := iniSections(f.path)
		if err != nil {
			return false, err
		}
		for _, s := range sections {
			if s == profile {
				return true, nil
			}
			if f.config {
				if name, ok := strings.CutPrefix(s, "profile "); ok && strings.TrimSpace(name) == profile {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// iniSections returns the section names of an INI file. Only section
// headers are looked at; values (which may be secrets) are never kept.
func iniSections(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	var sections []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			if end := strings.Index(line, "]"); end > 0 {
				sections = append(sections, strings.TrimSpace(line[1:end]))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return sections, nil
}
