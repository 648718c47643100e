package kube

import "testing"

func TestLocal(t *testing.T) {
	for server, want := range map[string]bool{
		"https://127.0.0.1:16443":       true,
		"https://[::1]:6443":            true,
		"https://localhost:6443":        true,
		"https://10.0.0.5:6443":         false,
		"https://cluster.example:443":   false,
		"https://127.0.0.1.example:443": false,
	} {
		if got := (&Client{Server: server}).Local(); got != want {
			t.Errorf("Local(%s) = %v, want %v", server, got, want)
		}
	}
}
