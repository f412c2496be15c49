#!/usr/bin/env python3
"""Generate a large bundle workspace from a real source tree.

usage: generate_corpus_workspace.py SOURCE_DIR OUT_DIR [MAX_MB]
       generate_corpus_workspace.py mixed OUT_DIR [MAX_MB]

Copies up to MAX_MB (default 140) of text sources from SOURCE_DIR (for example the
crate sources cargo keeps under ~/.cargo/registry/src/*/) into OUT_DIR/corpus/, one
folder per top-level project. `mixed` takes a third each from sources every machine
with Python and a C toolchain has offline: the C and C++ headers under /usr/include,
Python's standard library and site-packages, and cargo's registry sources (each
top-level folder a project; the three taken in turn, so every size is a mix), and writes one domain per project whose patterns glob
its sources (`corpus/<project>/**/*.rs` and friends) and whose examples list its
examples/tests folders; one service per ten projects (owning the first of them, depending
on the previous service, with an excerpt of a source file as its local pattern); and a
feature `all` over every domain and service. Symlinks are skipped.
"""
import os
import shutil
import sys

EXTENSIONS = {".rs", ".py", ".c", ".h", ".cpp", ".hpp", ".go", ".js", ".ts", ".md", ".toml", ".txt", ".java"}


def mixed_projects():
    """(prefix, project folder) from the three offline sources, taken in turn."""
    import glob
    import sysconfig
    roots = [("c", "/usr/include")]
    paths = sysconfig.get_paths()
    roots += [("py", paths["stdlib"]), ("pysite", paths["purelib"])]
    roots += [("rs", path) for path in sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/")))[:1]]
    lists = []
    for prefix, root in roots:
        if os.path.isdir(root):
            lists.append([(prefix, os.path.join(root, project)) for project in sorted(os.listdir(root))
                          if project != "site-packages"])
    while any(lists):
        for projects in lists:
            if projects:
                yield projects.pop(0)


def main():
    source, out = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3] if len(sys.argv) > 3 else 140) * 1024 * 1024
    total = 0
    files = 0
    domains = []
    os.makedirs(os.path.join(out, "domains"), exist_ok=True)
    projects = (mixed_projects() if source == "mixed"
                else (("p", os.path.join(source, project)) for project in sorted(os.listdir(source))))
    for prefix, root in projects:
        project = os.path.basename(root.rstrip("/"))
        if not os.path.isdir(root) or total >= limit:
            continue
        name = prefix + "_" + "".join(c if c.isalnum() else "_" for c in project.lower())[:60]
        copied_exts = set()
        has_examples = False
        first_file = None
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file_name in sorted(names):
                path = os.path.join(folder, file_name)
                ext = os.path.splitext(file_name)[1]
                if ext not in EXTENSIONS or os.path.islink(path) or total >= limit:
                    continue
                size = os.path.getsize(path)
                if size > 1024 * 1024:
                    continue
                relative = os.path.relpath(path, root)
                target = os.path.join(out, "corpus", name, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(path, target)
                total += size
                files += 1
                copied_exts.add(ext)
                if first_file is None:
                    first_file = os.path.join("corpus", name, relative)
                if relative.split(os.sep)[0] in ("examples", "tests"):
                    has_examples = True
        if not copied_exts:
            continue
        patterns = "\n".join(f"  src{ext.replace('.', '_')}: corpus/{name}/**/*{ext}" for ext in sorted(copied_exts))
        examples = ""
        if has_examples:
            entries = [f"corpus/{name}/{sub}" for sub in ("examples", "tests") if os.path.isdir(os.path.join(out, "corpus", name, sub))]
            examples = "examples: [" + ", ".join(entries) + "]\n"
        with open(os.path.join(out, "domains", f"{name}.yaml"), "w") as handle:
            handle.write(f"kind: domain\nname: {name}\nconstraints:\n  style: follow {project}'s conventions\npatterns:\n{patterns}\n{examples}")
        domains.append((name, first_file))
    services = []
    with open(os.path.join(out, "domains", "services.yaml"), "w") as handle:
        for start in range(0, len(domains), 10):
            owner, first_file = domains[start]
            service = f"svc-{start // 10:03d}"
            depends = f"depends_on: [{services[-1]}]\n" if services else ""
            handle.write(f"---\nkind: service\nname: {service}\ndomain: {owner}\n{depends}"
                         f"local_patterns:\n  entry:\n    path: {first_file}\n    lines: 1-1\n"
                         f"    why: where {owner} starts\n")
            services.append(service)
    with open(os.path.join(out, "domains", "feature.yaml"), "w") as handle:
        handle.write("kind: feature\nname: all\ndomains: [" + ", ".join(name for name, _ in domains) + "]\n"
                     "services: [" + ", ".join(services) + "]\n")
    with open(os.path.join(out, "ctx.toml"), "w") as handle:
        handle.write('[workspace]\nname = "corpus"\n[bundle]\nbudget = 0\n')
    print(f"{out}: {files} files, {total / 1024 / 1024:.1f} MiB, {len(domains)} domains, {len(services)} services")


if __name__ == "__main__":
    main()
