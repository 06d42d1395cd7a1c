package macos

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// Component is what PackageInfo and Distribution say about the one component
// package of the product archive.
type Component struct {
	Identifier    string // --identifier; the component is <identifier>.base.pkg
	Version       string // orbit version
	NumberOfFiles int    // entries in the payload, as the Bom counts them
	InstallKBytes int64  // installed size in KiB
	Postinstall   bool   // Scripts holds ./postinstall
}

// ComponentID is the component package's identifier.
func (c Component) ComponentID() string { return c.Identifier + ".base.pkg" }

// ComponentDir is the component's directory in the product archive.
const ComponentDir = "base.pkg"

// Title is the product title Installer shows.
const Title = "Fleet osquery"

type pkgInfo struct {
	XMLName         xml.Name        `xml:"pkg-info"`
	FormatVersion   int             `xml:"format-version,attr"`
	Identifier      string          `xml:"identifier,attr"`
	Version         string          `xml:"version,attr"`
	InstallLocation string          `xml:"install-location,attr"`
	Auth            string          `xml:"auth,attr"`
	Payload         pkgInfoPayload  `xml:"payload"`
	Scripts         *pkgInfoScripts `xml:"scripts"`
	BundleVersion   struct{}        `xml:"bundle-version"`
}

type pkgInfoPayload struct {
	NumberOfFiles int   `xml:"numberOfFiles,attr"`
	InstallKBytes int64 `xml:"installKBytes,attr"`
}

type pkgInfoScripts struct {
	Postinstall fileRef `xml:"postinstall"`
}

type fileRef struct {
	File string `xml:"file,attr"`
}

// PackageInfo is base.pkg/PackageInfo (fleetd-compat.md §2.1), with the payload's
// file count and size as pkgbuild writes them.
func PackageInfo(c Component) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	p := pkgInfo{
		FormatVersion: 2, Identifier: c.ComponentID(), Version: c.Version,
		InstallLocation: "/", Auth: "root",
		Payload: pkgInfoPayload{NumberOfFiles: c.NumberOfFiles, InstallKBytes: c.InstallKBytes},
	}
	if c.Postinstall {
		p.Scripts = &pkgInfoScripts{Postinstall: fileRef{File: "./postinstall"}}
	}
	return marshal(p)
}

type distribution struct {
	XMLName        xml.Name `xml:"installer-gui-script"`
	MinSpecVersion int      `xml:"minSpecVersion,attr"`
	Title          string   `xml:"title"`
	Outline        outline  `xml:"choices-outline"`
	Choice         choice   `xml:"choice"`
	PkgRefs        []pkgRef `xml:"pkg-ref"`
	Options        options  `xml:"options"`
}

type outline struct {
	Line struct {
		Choice string `xml:"choice,attr"`
	} `xml:"line"`
}

type choice struct {
	ID          string `xml:"id,attr"`
	Title       string `xml:"title,attr"`
	Description string `xml:"description,attr"`
	Enabled     string `xml:"enabled,attr"`
	Selected    string `xml:"selected,attr"`
	PkgRef      idRef  `xml:"pkg-ref"`
}

type idRef struct {
	ID string `xml:"id,attr"`
}

type pkgRef struct {
	ID            string         `xml:"id,attr"`
	Version       string         `xml:"version,attr,omitempty"`
	Auth          string         `xml:"auth,attr,omitempty"`
	InstallKBytes int64          `xml:"installKBytes,attr,omitempty"`
	Href          string         `xml:",chardata"`
	BundleVersion *bundleVersion `xml:"bundle-version"`
}

type bundleVersion struct {
	Bundle struct {
		ID   string `xml:"id,attr"`
		Path string `xml:"path,attr"`
	} `xml:"bundle"`
}

type options struct {
	Customize            string `xml:"customize,attr"`
	HostArchitectures    string `xml:"hostArchitectures,attr"`
	RequireScripts       string `xml:"require-scripts,attr"`
	AllowExternalScripts string `xml:"allow-external-scripts,attr"`
}

// Distribution is the product archive's Distribution (fleetd-compat.md §2.1):
// one choice holding the component, its reference "#base.pkg", and a
// bundle-version naming the bare identifier.
func Distribution(c Component) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	d := distribution{MinSpecVersion: 2, Title: Title}
	d.Outline.Line.Choice = "choiceBase"
	d.Choice = choice{ID: "choiceBase", Title: Title, Description: "Standard install of " + Title,
		Enabled: "false", Selected: "true", PkgRef: idRef{ID: c.ComponentID()}}
	bv := &bundleVersion{}
	bv.Bundle.ID = c.Identifier
	d.PkgRefs = []pkgRef{
		{ID: c.ComponentID(), Version: c.Version, Auth: "root", InstallKBytes: c.InstallKBytes, Href: "#" + ComponentDir},
		{ID: c.ComponentID(), BundleVersion: bv},
	}
	d.Options = options{Customize: "never", HostArchitectures: "arm64,x86_64", RequireScripts: "false", AllowExternalScripts: "false"}
	return marshal(d)
}

func (c Component) check() error {
	if c.Identifier == "" || c.Version == "" {
		return fmt.Errorf("package info: identifier and version are required")
	}
	if err := CheckXMLText("--identifier", c.Identifier); err != nil {
		return err
	}
	return CheckXMLText("the orbit version", c.Version)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "    ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode XML: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
