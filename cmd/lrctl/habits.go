package main

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// polish gives every command of the tree the habits of git and kubectl, whoever wrote it:
// a group command (image, emu, bench) refuses an unknown subcommand with a suggestion instead
// of printing help and succeeding; wrong arguments name what is missing or extra (NETWORK)
// instead of counting; an unknown flag gets the nearest one; a bad number says so in words.
func polish(root *cobra.Command) {
	root.SetFlagErrorFunc(flagError)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.HasSubCommands() && !c.Runnable():
			c.Args = unknownSubcommand
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		case c.Args != nil:
			orig := c.Args
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := orig(cmd, args); err != nil {
					return argError(cmd, args, err)
				}
				return nil
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

// unknownSubcommand refuses arguments to a group command: they can only be a mistyped
// subcommand.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var subs, near []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			subs = append(subs, s.Name())
			if levenshtein(args[0], s.Name()) <= 2 || strings.HasPrefix(s.Name(), args[0]) {
				near = append(near, s.Name())
			}
		}
	}
	hint := ""
	if len(near) > 0 {
		hint = " (did you mean " + strings.Join(near, " or ") + "?)"
	}
	return fmt.Errorf("%s: unknown command %s%s; it has %s", cmd.CommandPath(), quoteArg(args[0]), hint, strings.Join(subs, ", "))
}

var (
	bracketed  = regexp.MustCompile(`\[[^\]]*\]`)
	positional = regexp.MustCompile(`^[A-Z][A-Z0-9_]*(\.\.\.)?$`)
)

// positionals reads a command's positional arguments from its Use line: the upper-case
// words outside brackets are required, [NAME] optional, NAME... repeatable.
func positionals(use string) (required, optional []string, variadic bool) {
	for _, m := range bracketed.FindAllString(use, -1) {
		inner := strings.Trim(m, "[]")
		if positional.MatchString(inner) {
			optional = append(optional, inner)
		}
	}
	words := strings.Fields(bracketed.ReplaceAllString(use, " "))[1:]
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, "-") {
			i++ // the flag's value: --steps N
			continue
		}
		if positional.MatchString(w) {
			required = append(required, strings.TrimSuffix(w, "..."))
			variadic = variadic || strings.HasSuffix(w, "...")
		}
	}
	return required, optional, variadic
}

// argError rephrases cobra's "accepts 1 arg(s), received 0" by the arguments' names.
func argError(cmd *cobra.Command, args []string, err error) error {
	required, optional, variadic := positionals(cmd.Use)
	usage := fmt.Sprintf(" (usage: %s %s)", cmd.Parent().CommandPath(), cmd.Use)
	if !cmd.HasParent() {
		usage = ""
	}
	switch {
	case len(args) < len(required):
		return fmt.Errorf("%s: missing %s%s", cmd.CommandPath(), strings.Join(required[len(args):], " "), usage)
	case !variadic && len(args) > len(required)+len(optional):
		after := "takes no arguments"
		if n := len(required) + len(optional); n > 0 {
			names := append(append([]string{}, required...), optional...)
			after = "after " + names[n-1]
		}
		extra := args[len(required)+len(optional)]
		return fmt.Errorf("%s: unexpected argument %s (%s)%s", cmd.CommandPath(), quoteArg(extra), after, usage)
	}
	return err
}

// quoteArg quotes a command-line word, cut to 64 bytes.
func quoteArg(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}

// flagError turns pflag's errors into ones that help: the nearest flag for an unknown one,
// words for a bad number.
func flagError(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	var ve *pflag.InvalidValueError
	switch {
	case errors.As(err, &ne):
		name := ne.GetSpecifiedName()
		if sh := ne.GetSpecifiedShortnames(); sh != "" {
			return fmt.Errorf("%s: unknown flag -%s (in -%s); see %s --help", cmd.CommandPath(), name[:1], sh, cmd.CommandPath())
		}
		hint := ""
		if s := nearestFlag(cmd, name); s != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", s)
		}
		return fmt.Errorf("%s: unknown flag --%s%s; see %s --help", cmd.CommandPath(), name, hint, cmd.CommandPath())
	case errors.As(err, &ve):
		f := ve.GetFlag()
		what := "not a valid value"
		switch f.Value.Type() {
		case "int", "int32", "int64":
			what = "not a whole number"
		case "uint", "uint8", "uint16", "uint32", "uint64":
			what = "not a whole number ≥ 0"
		case "float32", "float64":
			what = "not a number"
		case "duration":
			what = "not a duration (such as 500ms, 2s or 1m)"
		case "bool":
			what = "not true or false"
		}
		var num *strconv.NumError
		if errors.As(err, &num) && errors.Is(num.Err, strconv.ErrRange) {
			what = "out of range for --" + f.Name
		}
		return fmt.Errorf("%s: --%s %s: %s", cmd.CommandPath(), f.Name, quoteArg(ve.GetValue()), what)
	}
	return fmt.Errorf("%s: %w; see %s --help", cmd.CommandPath(), err, cmd.CommandPath())
}

// nearestFlag is the flag of cmd closest to name (edit distance at most 2, or a prefix).
func nearestFlag(cmd *cobra.Command, name string) string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	seen := map[string]bool{}
	visit := func(f *pflag.Flag) {
		if f.Hidden || seen[f.Name] {
			return
		}
		seen[f.Name] = true
		d := levenshtein(name, f.Name)
		if strings.HasPrefix(f.Name, name) && len(name) >= 2 {
			d = min(d, 1)
		}
		if d <= 2 {
			cs = append(cs, cand{f.Name, d})
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	if len(cs) == 0 {
		return ""
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d || cs[i].d == cs[j].d && cs[i].name < cs[j].name })
	return cs[0].name
}

// levenshtein is the edit distance of a and b, a swap of neighbours counting one edit.
func levenshtein(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1) // a transposition: "biuld"
			}
		}
		prev2, prev = prev, cur
	}
	return prev[len(b)]
}
