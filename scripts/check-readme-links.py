"""Check that every link of README.md works where the README is read: on GitHub, on Galaxy's page and in the
installed collection (the README is all three). The build leaves out scripts/, emulator/, docs/dev, tests...

    .venv/bin/python scripts/check-readme-links.py TARBALL [README]

- a relative link must name a file or directory that is inside the built TARBALL (and a '#anchor' of a Markdown
  file must be one of its headings);
- a link into this repository (https://github.com/<repository of galaxy.yml>/blob/main/PATH or /tree/main/PATH) must
  name a file or directory that git tracks, so a moved file does not leave a dead absolute link behind.
Prints each bad link and exits 1; prints a one-line summary and exits 0 when all are good.
"""

from __future__ import print_function

import os
import re
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# [text](target) and <a href="target">, skipping images' inline data; fenced code blocks are removed first.
LINK = re.compile(r'\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|href="([^"]+)"')
FENCE = re.compile(r'^(```|~~~).*?^\1\s*$', re.M | re.S)


def anchors(markdown):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'."""
    found = set()
    for line in FENCE.sub('', markdown).splitlines():
        match = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
        if match:
            text = re.sub(r'[^\w\- ]', '', match.group(1).lower().replace('`', ''))
            found.add(text.replace(' ', '-'))
    return found


def repository_url():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        match = re.search(r'^repository:\s*(\S+)', handle.read(), re.M)
    if not match:
        sys.exit('galaxy.yml has no repository: cannot check absolute links')
    return match.group(1).rstrip('/')


def _member_name(name):
    """A tar member's path without a leading './' (lstrip would also eat the dot of '.ansible-lint')."""
    while name.startswith('./'):
        name = name[2:]
    return name.rstrip('/')


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    tarball, readme = argv[1], argv[2] if len(argv) > 2 else os.path.join(ROOT, 'README.md')
    with tarfile.open(tarball) as tar:
        members = dict((_member_name(m.name), m) for m in tar.getmembers())
        shipped = set(members)
        for name in list(shipped):  # directories are implied by their files
            parts = name.split('/')
            shipped.update('/'.join(parts[:i]) for i in range(1, len(parts)))

        def read_shipped(name):
            member = members.get(name)
            return tar.extractfile(member).read().decode('utf-8') if member is not None and member.isfile() else None

        with open(readme, encoding='utf-8') as handle:
            text = handle.read()
        tracked = set(subprocess.check_output(['git', '-C', ROOT, 'ls-files'], universal_newlines=True).split())
        for name in list(tracked):
            parts = name.split('/')
            tracked.update('/'.join(parts[:i]) for i in range(1, len(parts)))
        repo = repository_url()
        own = re.compile(r'^' + re.escape(repo) + r'/(?:blob|tree)/main/([^#?]*)')
        bad, relative, absolute = [], 0, 0
        for match in LINK.finditer(FENCE.sub('', text)):
            target = match.group(1) or match.group(2)
            if re.match(r'^[a-z][a-z0-9+.-]*:', target, re.I):
                own_path = own.match(target)
                if own_path:
                    absolute += 1
                    if own_path.group(1).rstrip('/') not in tracked:
                        bad.append('%s: the repository has no %s' % (target, own_path.group(1)))
                continue
            path, _sep, anchor = target.partition('#')
            path = os.path.normpath(path).replace(os.sep, '/') if path else ''
            if not path:  # an anchor of the README itself
                if anchor not in anchors(text):
                    bad.append('%s: README.md has no such heading' % target)
                continue
            relative += 1
            if path.startswith('../') or path not in shipped:
                bad.append('%s: not in the built collection (%s): link %s/blob/main/%s instead'
                           % (target, os.path.basename(tarball), repo, path))
            elif anchor and path.endswith('.md') and anchor not in anchors(read_shipped(path) or ''):
                bad.append('%s: %s has no such heading' % (target, path))
    for line in bad:
        print('README.md link: ' + line)
    if bad:
        return 1
    print('README.md links: %d relative ones inside %s, %d into the repository, all resolve'
          % (relative, os.path.basename(tarball), absolute))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
