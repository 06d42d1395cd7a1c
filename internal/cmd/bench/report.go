package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints the machine, the agent and one table of every row.
func (b *bench) report(fmts []format) {
	fmt.Printf("\n%s, %d cores, %s %s/%s, %s; load average now %s\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		time.Now().UTC().Format("2006-01-02 15:04 MST"), loadAvg())
	for _, goos := range []string{"linux", "macos", "windows"} {
		var parts []string
		var total int64
		for _, role := range []string{agentOrbit, agentOsqueryd, agentDesktop} {
			st, err := os.Stat(agentFile(b.work, goos, role))
			if err != nil {
				continue
			}
			total += st.Size()
			parts = append(parts, fmt.Sprintf("%s %.1f", role, float64(st.Size())/mb))
		}
		fmt.Printf("agent %s: %.1f MB (%s)\n", goos, float64(total)/mb, strings.Join(parts, ", "))
	}
	fmt.Printf("wall, peak RSS: median of %d warm runs (matrices: one run); MB = 10^6 bytes\n\n", b.n)

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "format\tbuild\twall s\t× floor\t× 1 team\tCPU s\tCPU × floor\tpeak RSS MiB\toutput MB\t")
	for _, f := range fmts {
		var floor, floorCPU time.Duration
		for _, r := range b.rows {
			if r.format == f.name && r.floor {
				floor, floorCPU = r.res.wall, r.res.cpu
				break
			}
		}
		for _, r := range b.rows {
			if r.format != f.name {
				continue
			}
			team := ""
			if r.base != nil && r.base.wall > 0 {
				team = fmt.Sprintf("%.2f", r.res.wall.Seconds()/r.base.wall.Seconds())
			}
			ratio := ""
			if floor > 0 {
				ratio = fmt.Sprintf("%.2f", r.res.wall.Seconds()/floor.Seconds())
			}
			cpuRatio := ""
			if floorCPU > 0 {
				cpuRatio = fmt.Sprintf("%.2f", r.res.cpu.Seconds()/floorCPU.Seconds())
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%.2f\t%s\t%d\t%.1f\t\n", r.format, r.what, r.res.wall.Seconds(), ratio, team,
				r.res.cpu.Seconds(), cpuRatio, r.res.rssKiB/1024, float64(r.res.out)/mb)
		}
	}
	tw.Flush()
	fmt.Println("\n× floor = wall / the format's own compression library and level run once, on one thread, over")
	fmt.Println("exactly the component bytes the installer holds (the first floor row); × 1 team = matrix wall /")
	fmt.Println("the one-team matrix's wall. CPU = user + system time (all threads): on a shared machine it")
	fmt.Println("says more than wall. Floors and peers read the same files; everything is in the page cache.")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
