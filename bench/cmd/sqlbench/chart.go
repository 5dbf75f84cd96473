package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colText       = color.RGBA{30, 30, 30, 255}
	colGrid       = color.RGBA{225, 225, 225, 255}
	colAxis       = color.RGBA{120, 120, 120, 255}
	colFail       = color.RGBA{200, 40, 40, 255}
	// One colour per target, in the order direct, PgBouncer, sqlrouter.
	targetColors = []color.RGBA{{120, 144, 156, 255}, {66, 133, 244, 255}, {244, 160, 0, 255}}
	chartTargets = []string{"direct", "pgbouncer", "sqlrouter"}
)

// writeChart draws the median TPS of every workload and target as grouped
// bars, with the sqlrouter ratios under each group, and writes a PNG.
func writeChart(path string, r *results) error {
	const (
		width, height = 1000, 560
		left, right   = 90, 20
		top, bottom   = 100, 120
		scale         = 2
	)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fillRect(img, 0, 0, width, height, colBackground)

	title := fmt.Sprintf("pgbench median TPS: %d clients, scale %d, 2 shards", r.Settings.Clients, r.Settings.Scale)
	if r.Settings.Quick {
		title += " (quick mode)"
	}
	drawText(img, left, 16, title, scale, colText)
	lx := left
	for i, t := range chartTargets {
		fillRect(img, lx, 52, 18, 14, targetColors[i])
		drawText(img, lx+26, 52, targetLabels[t], scale, colText)
		lx += 26 + textWidth(targetLabels[t], scale) + 40
	}

	var shown []mode
	maxTPS := 0.0
	for _, m := range modes {
		if _, ok := lookupSummary(r.Summary, m.Name, "direct"); !ok {
			continue
		}
		shown = append(shown, m)
		for _, t := range chartTargets {
			if s, ok := lookupSummary(r.Summary, m.Name, t); ok {
				maxTPS = max(maxTPS, s.TPSMax, s.TPS)
			}
		}
	}
	plotW, plotH := width-left-right, height-top-bottom
	step := niceStep(maxTPS / 5)
	yMax := math.Max(step, math.Ceil(maxTPS/step)*step)
	yOf := func(v float64) int { return top + plotH - int(v/yMax*float64(plotH)) }
	for v := 0.0; v <= yMax+step/2; v += step {
		y := yOf(v)
		fillRect(img, left, y, plotW, 1, colGrid)
		label := shortNumber(v)
		drawText(img, left-10-textWidth(label, scale), y-7, label, scale, colText)
	}
	fillRect(img, left, top, 1, plotH, colAxis)
	fillRect(img, left, top+plotH, plotW, 1, colAxis)

	if len(shown) > 0 {
		groupW := plotW / len(shown)
		barW := groupW * 8 / 10 / len(chartTargets)
		for gi, m := range shown {
			gx := left + gi*groupW + groupW/10
			for ti, t := range chartTargets {
				x := gx + ti*barW
				s, ok := lookupSummary(r.Summary, m.Name, t)
				if !ok || s.OKRuns == 0 {
					why := "n/a"
					if ok && s.Status != "unavailable" {
						why = map[string]string{"stalled": "hung", "error": "fail"}[s.Status]
						if why == "" {
							why = "fail"
						}
					}
					drawText(img, x+(barW-textWidth(why, scale))/2, top+plotH-20, why, scale, colFail)
					continue
				}
				y := yOf(s.TPS)
				fillRect(img, x+2, y, barW-4, top+plotH-y, targetColors[ti])
				label, ls := shortNumber(s.TPS), scale
				if textWidth(label, ls) > barW {
					ls = 1
				}
				drawText(img, x+(barW-textWidth(label, ls))/2, y-8*ls, label, ls, colText)
			}
			label := m.Label
			drawText(img, left+gi*groupW+(groupW-textWidth(label, scale))/2, top+plotH+12, label, scale, colText)
			// The sqlrouter ratios, in sqlrouter's colour.
			for li, line := range []string{
				"vs direct " + ratioText(ratio(r.Summary, m.Name, "sqlrouter", "direct")),
				"vs bouncer " + ratioText(ratio(r.Summary, m.Name, "sqlrouter", "pgbouncer")),
			} {
				drawText(img, left+gi*groupW+(groupW-textWidth(line, scale))/2, top+plotH+40+li*22, line, scale, color.RGBA{170, 100, 0, 255})
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ratioText(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// shortNumber writes 25300 as 25.3K.
func shortNumber(v float64) string {
	switch {
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case v >= 1e3:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "K"
	}
	return fmt.Sprintf("%.0f", v)
}

func trimZero(s string) string {
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}
