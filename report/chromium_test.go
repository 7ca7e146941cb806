package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser's path: $CHROMIUM, else chromium
// or chromium-browser on PATH. Without one the test is skipped, except
// under CI, where it fails (.ci/run installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium to render the report (install Debian's chromium package)")
	}
	t.Skip("no chromium here")
	return ""
}

// runChromium runs headless Chromium on url with the extra flags and
// returns its standard output.
func runChromium(t *testing.T, bin, dir, url string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(dir, "profile")}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, errb.String())
	}
	return out.Bytes()
}

// TestRendersInChromium writes the report of a small model, renders it in
// headless Chromium and checks the screenshot is a picture, not a blank
// page, and that the rendered DOM holds the charts with their marks.
func TestRendersInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := WriteFile(path, convnetInput(t)); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if refs := externalRefs(string(page)); len(refs) > 0 {
		t.Errorf("external references: %q", refs)
	}
	url := "file://" + path

	dom := string(runChromium(t, bin, dir, url, "--dump-dom"))
	charts := chartsOf(dom)
	if want := len(chartsOf(string(page))); len(charts) != want || want < 5 {
		t.Errorf("rendered DOM holds %d charts, the file %d (want 5 or more)", len(charts), want)
	}
	for i, c := range charts {
		if !regexp.MustCompile(`<(rect|path|line)\b`).MatchString(c) {
			t.Errorf("rendered chart %d has no rect, path or line", i)
		}
	}
	for _, id := range []string{"summary", "layers", "histograms", "weights", "sizes"} {
		if !strings.Contains(dom, `id="`+id+`"`) {
			t.Errorf("rendered DOM lacks section %q", id)
		}
	}

	shot := filepath.Join(dir, "shot.png")
	runChromium(t, bin, dir, url, "--screenshot="+shot, "--window-size=1280,4000", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is no PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != 1280 || b.Dy() != 4000 {
		t.Errorf("screenshot %v, want 1280x4000", b)
	}
	// The page's top, the first charts and the histograms all hold ink;
	// coloured pixels show the charts were drawn, not only text.
	for _, band := range []image.Rectangle{
		image.Rect(0, 0, 1280, 400), image.Rect(0, 800, 1280, 1600), image.Rect(0, 1600, 1280, 2800),
	} {
		ink, colour := inkIn(img, band.Intersect(b))
		if ink < 2000 {
			t.Errorf("band %v: %d non-white pixels, want a rendered page", band, ink)
		}
		if band.Min.Y >= 800 && colour < 1000 {
			t.Errorf("band %v: %d coloured pixels, want charts", band, colour)
		}
	}
}

// inkIn counts the non-white pixels of r, and those clearly coloured
// (not grey).
func inkIn(img image.Image, r image.Rectangle) (ink, colour int) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r8, g8, b8 := int(cr>>8), int(cg>>8), int(cb>>8)
			if r8 < 240 || g8 < 240 || b8 < 240 {
				ink++
			}
			if max(r8, g8, b8)-min(r8, g8, b8) > 60 {
				colour++
			}
		}
	}
	return ink, colour
}
