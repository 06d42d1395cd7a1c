package packaging

// macosLayout is the agent's layout for pkg (fleetd-compat.md §2.1).
func macosLayout(o *Options, in Inputs) (*Layout, error) {
	return nil, &NotSupportedError{What: "--type=" + o.Type}
}
