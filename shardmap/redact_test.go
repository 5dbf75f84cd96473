package shardmap

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://router:s3cret@10.0.0.1:5432/app?sslmode=require":          "postgres://router:xxxxx@10.0.0.1:5432/app?sslmode=require",
		"postgres://router@10.0.0.1:5432/app?password=s3cret&sslmode=require": "postgres://router@10.0.0.1:5432/app?password=xxxxx&sslmode=require",
		"postgres://10.0.0.1/app":  "postgres://10.0.0.1/app",
		"postgres://u:s3cret@[::1": "postgres://(unparsable URL)",
	} {
		got := RedactURL(in)
		if got != want || strings.Contains(got, "s3cret") {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
