package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/sqlrouter/sqlrouter/router"
)

// envPrefix prefixes every environment variable: etcd.endpoints is
// SQLROUTER_ETCD_ENDPOINTS.
const envPrefix = "SQLROUTER"

// configKeys lists every configuration key (dotted, as in the YAML file)
// that holds a value, from the mapstructure tags of router.Config.
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time" {
				walk(f.Type, key+".")
				continue
			}
			keys = append(keys, key)
		}
	}
	walk(reflect.TypeOf(router.Config{}), "")
	return keys
}

// envName is the environment variable of a key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// loadConfig reads the configuration: the file (if any), then SQLROUTER_*
// environment variables, then flags that were set, each overriding the one
// before.
func loadConfig(file string, flags *pflag.FlagSet, flagKeys map[string]string) (router.Config, error) {
	v := viper.New()
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, k := range configKeys() {
		if err := v.BindEnv(k); err != nil {
			return router.Config{}, err
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return router.Config{}, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	for flag, key := range flagKeys {
		if f := flags.Lookup(flag); f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return router.Config{}, err
			}
		}
	}
	var cfg router.Config
	err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		return router.Config{}, fmt.Errorf("configuration: %w", err)
	}
	// Per-cluster backend logins: SQLROUTER_BACKEND_CLUSTERS_<NAME>_<FIELD>.
	if err := cfg.Backend.ClustersFromEnv(os.Environ()); err != nil {
		return router.Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}
