package templates

import "testing"

func TestEnvQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"https://fleet.example.com:8080/path?a=b", "https://fleet.example.com:8080/path?a=b"},
		{"", ""},
		{"a b", `"a b"`},
		{`q"uote`, `"q\"uote"`},
		{`back\slash`, `"back\\slash"`},
		{"dollar$HOME", `"dollar\$HOME"`},
		{"tick`x`", "\"tick\\`x\\`\""},
		{"#comment", `"#comment"`},
		{"ünïcødé", "ünïcødé"},
	}
	for _, tt := range tests {
		if got := EnvQuote(tt.in); got != tt.want {
			t.Errorf("EnvQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCertsPEM(t *testing.T) {
	if b := CertsPEM(); len(b) < 100000 {
		t.Errorf("certs.pem is %d bytes: not a CA bundle", len(b))
	}
}
