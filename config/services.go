package config

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// A Service is one program of the project that devrun builds, runs and
// swaps on its own, beside the others: a services entry of devrun.yaml.
type Service struct {
	// Name is the service's key in services.
	Name string
	// DependsOn names the services that must be started, and ready, before
	// this one first starts.
	DependsOn []string
	// dependsSource says where DependsOn came from, for devrun config.
	dependsSource string
	// Config is the service's configuration: the defaults, under the top
	// level of devrun.yaml, under the service's own sections, under the
	// DEVRUN_ variables and the flags, which apply to every service.
	Config *Config
}

// serviceKeys are the sections a service may hold; the watcher's keys
// (but for graph and rules) and the production image's are set once, at
// the top level: one watcher serves every service.
var serviceKeys = []string{"build.", "run.", "container.", "compose.", "proxy.", "watch.graph", "watch.rules"}

// topOnly are keys of a section a service may hold that are set once all
// the same.
var topOnly = []string{"build.parallel"}

// serviceOnly are the keys of a service entry that are no configuration key.
var serviceOnly = []string{"depends_on"}

var reServiceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// perService reports whether key may be set in a service's section.
func perService(key string) bool {
	if slices.Contains(topOnly, key) {
		return false
	}
	for _, p := range serviceKeys {
		if key == p || (strings.HasSuffix(p, ".") && strings.HasPrefix(key, p)) {
			return true
		}
	}
	return false
}

// loadServices reads the services map of the file that v read, each over
// top (the configuration without services), and returns them ordered by
// name, with every problem found.
func loadServices(v *viper.Viper, file, dir string, top *Config) ([]Service, []error) {
	base := filepath.Base(file)
	raw := v.Get("services")
	entries, ok := raw.(map[string]any)
	if ok && len(entries) == 0 {
		return nil, []error{fmt.Errorf("services (in %s): must name at least one service, such as services.api.build.package, or be left out", base)}
	}
	if !ok {
		return nil, []error{fmt.Errorf("services (in %s): must be a map of service names to their sections, such as services.api.build.package, not %s %v", base, typeName(raw), raw)}
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	var services []Service
	for _, name := range names {
		key := "services." + name
		if !reServiceName.MatchString(name) {
			errs = append(errs, fmt.Errorf("%s (in %s): a service name is lower-case letters, digits, _ and -, not %q", key, base, name))
			continue
		}
		section, ok := entries[name].(map[string]any)
		if entries[name] == nil {
			section, ok = map[string]any{}, true
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s (in %s): must be a section such as {build: {package: ./cmd/%s}}, not %s %v", key, base, name, typeName(entries[name]), entries[name]))
			continue
		}
		s, serrs := loadService(file, dir, top, name, section)
		errs = append(errs, serrs...)
		services = append(services, s)
	}
	errs = append(errs, checkDependencies(services, base)...)
	errs = append(errs, checkShared(services, base)...)
	return services, errs
}

// loadService reads one service's section over top.
func loadService(file, dir string, top *Config, name string, section map[string]any) (Service, []error) {
	base := filepath.Base(file)
	key := "services." + name
	s := Service{Name: name, dependsSource: "default"}
	var errs []error
	flat := flatten("", section)
	for _, k := range flat {
		switch {
		case slices.Contains(serviceOnly, k):
		case knownKey(k) && perService(k):
		case knownKey(k):
			errs = append(errs, fmt.Errorf("%s.%s (in %s): set at the top level only: one watcher serves every service, and devrun build builds one image", key, k, base))
		case isSection(k):
			errs = append(errs, fmt.Errorf("%s.%s (in %s): must be a section of keys, such as %s.%s", key, k, base, key, example(k)))
		default:
			errs = append(errs, fmt.Errorf("%s.%s (in %s): unknown key%s", key, k, base, suggestIn(key+".", k)))
		}
	}
	if deps, ok := section["depends_on"]; ok {
		list, err := parseList(deps)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.depends_on (in %s): %w", key, base, err))
		}
		s.DependsOn, s.dependsSource = list, base+" ("+key+")"
	}

	c := &Config{sources: map[string]string{}}
	for _, k := range keys {
		src := top.sources[k.name]
		val, inService := lookup(section, k.name)
		fromFlagOrEnv := strings.HasPrefix(src, "flag ") || strings.HasPrefix(src, "env ")
		if !inService || fromFlagOrEnv || !perService(k.name) {
			// The top level's value, checked there already.
			k.copy(c, top)
			c.sources[k.name] = src
			continue
		}
		c.sources[k.name] = base + " (" + key + ")"
		if err := k.set(c, val); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s (in %s): %w", key, k.name, base, err))
		}
	}
	if c.sources["build.package"] == "default" || c.sources["build.package"] == "default (the only main package)" {
		if isMain(filepath.Join(dir, "cmd", name)) {
			c.Build.Package = "./cmd/" + name
			c.sources["build.package"] = "default (./cmd/" + name + " holds a main package)"
		}
	}
	if _, own := lookup(section, "build.output"); !own {
		// Each service builds into a directory of its own.
		c.Build.Output = filepath.Join(c.Build.Output, name)
	}
	// In the compose sidecar, a service drives the compose service of its
	// name, through a directory of its own in the shared volume (the app's
	// container runs /devrun/NAME/pid1).
	if _, own := lookup(section, "compose.service"); !own && !strings.HasPrefix(c.sources["compose.service"], "flag ") && !strings.HasPrefix(c.sources["compose.service"], "env ") {
		c.Compose.Service = name
		c.sources["compose.service"] = "default (the service's name)"
	}
	if _, own := lookup(section, "compose.mount_dir"); !own {
		c.Compose.MountDir = path.Join(c.Compose.MountDir, name)
	}
	topErrs := map[string]bool{}
	for _, err := range top.crossCheck(dir) {
		topErrs[err.Error()] = true
	}
	for _, err := range c.crossCheck(dir) {
		if !topErrs[err.Error()] { // the top level's own are said once
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	s.Config = c
	return s, errs
}

// copy sets k's field of c to its value in from.
func (k key) copy(c, from *Config) {
	switch p := k.field(c).(type) {
	case *string:
		*p = *k.field(from).(*string)
	case *[]string:
		*p = slices.Clone(*k.field(from).(*[]string))
	case *bool:
		*p = *k.field(from).(*bool)
	case *time.Duration:
		*p = *k.field(from).(*time.Duration)
	case *[]Rule:
		*p = slices.Clone(*k.field(from).(*[]Rule))
	case *[]Step:
		*p = slices.Clone(*k.field(from).(*[]Step))
	default:
		panic(fmt.Sprintf("config: key %s has a field of type %T that copy does not know", k.name, p))
	}
}

// flatten returns the dotted keys of the leaves of m, lower-cased as
// viper reads them.
func flatten(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		name := prefix + strings.ToLower(k)
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !knownKey(name) {
			out = append(out, flatten(name+".", sub)...)
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// lookup returns the value at the dotted key in m, and whether it is there.
func lookup(m map[string]any, key string) (any, bool) {
	parts := strings.Split(key, ".")
	var cur any = m
	for _, p := range parts {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func knownKey(name string) bool {
	return slices.ContainsFunc(keys, func(k key) bool { return k.name == name })
}

func isSection(name string) bool {
	return slices.ContainsFunc(keys, func(k key) bool { return strings.HasPrefix(k.name, name+".") })
}

// suggestIn returns " (did you mean PREFIXx?)" for the known key closest
// to k.
func suggestIn(prefix, k string) string {
	s := suggest(k)
	if strings.HasPrefix(s, " (did you mean ") {
		return " (did you mean " + prefix + strings.TrimPrefix(s, " (did you mean ")
	}
	return s
}

// checkDependencies checks that every depends_on names another service,
// and that they form no cycle.
func checkDependencies(services []Service, base string) []error {
	byName := map[string]Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	var errs []error
	for _, s := range services {
		for _, d := range s.DependsOn {
			if d == s.Name {
				errs = append(errs, fmt.Errorf("services.%s.depends_on (in %s): a service cannot depend on itself", s.Name, base))
			} else if _, ok := byName[d]; !ok {
				errs = append(errs, fmt.Errorf("services.%s.depends_on (in %s): no service %q; the services are %s", s.Name, base, d, strings.Join(slices.Sorted(mapKeys(byName)), ", ")))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if cycle := findCycle(services); cycle != nil {
		errs = append(errs, fmt.Errorf("services (in %s): depends_on goes round in a circle: %s", base, strings.Join(cycle, " → ")))
	}
	return errs
}

// findCycle returns a cycle of depends_on, first service repeated last,
// or nil.
func findCycle(services []Service) []string {
	deps := map[string][]string{}
	for _, s := range services {
		deps[s.Name] = s.DependsOn
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		switch state[n] {
		case onPath:
			i := slices.Index(path, n)
			return append(slices.Clone(path[i:]), n)
		case done:
			return nil
		}
		state[n] = onPath
		path = append(path, n)
		for _, d := range deps[n] {
			if c := visit(d); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, s := range services {
		if c := visit(s.Name); c != nil {
			return c
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// StartOrder returns the services in an order that starts each after the
// services it depends on; among those free to start, by name.
func StartOrder(services []Service) []Service {
	var out []Service
	placed := map[string]bool{}
	for len(out) < len(services) {
		progress := false
		for _, s := range services {
			if placed[s.Name] {
				continue
			}
			if slices.ContainsFunc(s.DependsOn, func(d string) bool { return !placed[d] }) {
				continue
			}
			out, placed[s.Name], progress = append(out, s), true, true
		}
		if !progress { // a cycle, which Load refuses; keep the rest as they are
			for _, s := range services {
				if !placed[s.Name] {
					out = append(out, s)
				}
			}
			break
		}
	}
	return out
}

// Select returns the services named, in StartOrder, with those they depend
// on, or an error naming what is not a service.
func Select(services []Service, names []string) ([]Service, error) {
	if len(names) == 0 {
		return StartOrder(services), nil
	}
	byName := map[string]Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	want := map[string]bool{}
	var add func(n string)
	add = func(n string) {
		if want[n] {
			return
		}
		want[n] = true
		for _, d := range byName[n].DependsOn {
			add(d)
		}
	}
	var unknown []string
	for _, n := range names {
		if _, ok := byName[n]; !ok {
			unknown = append(unknown, n)
			continue
		}
		add(n)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no service %s in devrun.yaml; the services are %s",
			strings.Join(unknown, ", "), strings.Join(slices.Sorted(mapKeys(byName)), ", "))
	}
	var out []Service
	for _, s := range StartOrder(services) {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkShared checks that no two services in the compose sidecar share a
// compose service or a directory of the volume: each would swap the
// other's app.
func checkShared(services []Service, base string) []error {
	var errs []error
	seen := map[string]string{}
	for _, s := range services {
		c := s.Config
		if c.Proxy.Listen != "" {
			id := "proxy " + Addr(c.Proxy.Listen)
			if other, ok := seen[id]; ok {
				errs = append(errs, fmt.Errorf("services.%s.proxy.listen (from %s): %q is services.%s's proxy too; give each service a proxy of its own", s.Name, c.sources["proxy.listen"], c.Proxy.Listen, other))
			} else {
				seen[id] = s.Name
			}
		}
		if c.Run.Debug {
			id := "delve " + Addr(c.Run.DebugListen)
			if other, ok := seen[id]; ok {
				errs = append(errs, fmt.Errorf("services.%s.run.debug_listen (from %s): %q is where services.%s's Delve listens too; give each service debugged an address of its own", s.Name, c.sources["run.debug_listen"], c.Run.DebugListen, other))
			} else {
				seen[id] = s.Name
			}
		}
		if c.Run.Mode == "container" {
			// Two dev containers cannot publish one host port.
			for _, spec := range c.Container.Ports {
				p, err := ParsePort(spec)
				if err != nil {
					continue // said already
				}
				id := fmt.Sprintf("port %s:%d/%s", p.IP, p.Host, p.Proto)
				if other, ok := seen[id]; ok {
					errs = append(errs, fmt.Errorf("services.%s.container.ports (from %s): %q publishes host port %d, as services.%s does; give each service ports of its own, in its container section", s.Name, c.sources["container.ports"], spec, p.Host, other))
					continue
				}
				seen[id] = s.Name
			}
		}
		if c.Run.Mode != "compose" {
			continue
		}
		for _, k := range []struct{ key, val string }{{"compose.service", c.Compose.Service}, {"compose.mount_dir", path.Clean(c.Compose.MountDir)}} {
			id := k.key + "=" + k.val
			if other, ok := seen[id]; ok {
				errs = append(errs, fmt.Errorf("services.%s.%s (from %s): %q is services.%s's too; each service needs its own", s.Name, k.key, c.sources[k.key], k.val, other))
				continue
			}
			seen[id] = s.Name
		}
	}
	return errs
}

// composeServices makes the services of a compose.service that names
// several (--service api,worker), each over c: its compose service, a
// directory of its own in the shared volume (/devrun/api), and its
// package, ./cmd/NAME where that is a main package.
func composeServices(c *Config, dir string) ([]Service, []error) {
	var services []Service
	var errs []error
	seen := map[string]bool{}
	for _, name := range strings.Split(c.Compose.Service, ",") {
		name = strings.TrimSpace(name)
		if seen[name] {
			errs = append(errs, fmt.Errorf("compose.service (from %s): %q is named twice", c.sources["compose.service"], name))
			continue
		}
		seen[name] = true
		if !reServiceName.MatchString(name) {
			errs = append(errs, fmt.Errorf("compose.service (from %s): %q is no service name a devrun service can have (lower-case letters, digits, _ and -)", c.sources["compose.service"], name))
			continue
		}
		sc := *c
		sc.Services = nil
		sc.sources = maps.Clone(c.sources)
		sc.Compose.Service = name
		sc.Compose.MountDir = path.Join(c.Compose.MountDir, name)
		sc.Build.Output = filepath.Join(c.Build.Output, name)
		if isMain(filepath.Join(dir, "cmd", name)) && strings.HasPrefix(c.sources["build.package"], "default") {
			sc.Build.Package = "./cmd/" + name
			sc.sources["build.package"] = "default (./cmd/" + name + " holds a main package)"
		}
		services = append(services, Service{Name: name, Config: &sc, dependsSource: "default"})
	}
	return services, append(errs, checkShared(services, "")...)
}
