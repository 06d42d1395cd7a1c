package packaging

// windowsLayout (in layout_win.go: a _windows.go name would build only on Windows) is the agent's layout for msi (fleetd-compat.md §2.2).
func windowsLayout(o *Options, in Inputs) (*Layout, error) {
	return nil, &NotSupportedError{What: "--type=" + o.Type}
}
