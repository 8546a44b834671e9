package fingerprint

import "testing"

const benchUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func BenchmarkCompute(b *testing.B) {
	bd := newBinder(b, Config{})
	r := newRequest(benchUA, "en-US,en;q=0.9")
	b.ReportAllocs()
	for b.Loop() {
		_ = bd.Compute(r, "")
	}
}

func BenchmarkComputeWithIP(b *testing.B) {
	bd := newBinder(b, Config{IPPrefix: ActionSoft})
	r := newRequest(benchUA, "en-US,en;q=0.9")
	b.ReportAllocs()
	for b.Loop() {
		_ = bd.Compute(r, "2001:db8:1:2::1")
	}
}

func BenchmarkCheck(b *testing.B) {
	bd := newBinder(b, Config{})
	r := newRequest(benchUA, "en-US,en;q=0.9")
	stored := bd.Compute(r, "")
	b.ReportAllocs()
	for b.Loop() {
		if !bd.Check(stored, r, "").OK() {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkCheckWithIP(b *testing.B) {
	bd := newBinder(b, Config{IPPrefix: ActionSoft})
	r := newRequest(benchUA, "en-US,en;q=0.9")
	stored := bd.Compute(r, "203.0.113.7")
	b.ReportAllocs()
	for b.Loop() {
		if !bd.Check(stored, r, "203.0.113.7").OK() {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkCheckMismatch(b *testing.B) {
	bd := newBinder(b, Config{})
	stored := bd.Compute(newRequest(benchUA, "en-US,en;q=0.9"), "")
	r := newRequest("curl/8.5.0", "ja")
	b.ReportAllocs()
	for b.Loop() {
		if bd.Check(stored, r, "").OK() {
			b.Fatal("match")
		}
	}
}

func BenchmarkCheckRotated(b *testing.B) {
	old := newBinder(b, Config{}, secret1)
	bd := newBinder(b, Config{}, secret2, secret1)
	r := newRequest(benchUA, "en-US,en;q=0.9")
	stored := old.Compute(r, "")
	b.ReportAllocs()
	for b.Loop() {
		if !bd.Check(stored, r, "").OK() {
			b.Fatal("mismatch")
		}
	}
}
