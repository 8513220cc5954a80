# Build Sticker Assistant for Windows: a one-folder app (dist\sticker-assistant\) with a windowed
# sticker-assistant.exe (Start-menu shortcut) and a console sticker-assistant-cli.exe, self-tested,
# then zipped. Run from the repository root in PowerShell:
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1 [-Variant cpu|cuda]
param([ValidateSet("cpu", "cuda")][string]$Variant = "cpu")
$ErrorActionPreference = "Stop"
$root = Resolve-Path "$PSScriptRoot\..\.."
Set-Location $root

if (-not (Test-Path .venv\Scripts\python.exe)) { py -3.11 -m venv .venv }
$py = "$root\.venv\Scripts\python.exe"
$env:PIP_DISABLE_PIP_VERSION_CHECK = "1"
$env:CMAKE_ARGS = "-DGGML_NATIVE=OFF"          # portable llama.cpp build (needs VS Build Tools + CMake)
& $py -m pip install -q --upgrade pip wheel setuptools
if ($Variant -eq "cuda") {
  # CUDA torch 2.13.0 from the PyTorch index; llama.cpp with CUDA kernels (needs the CUDA toolkit).
  & $py -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
  $env:CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_CUDA=on"
}
& $py -m pip install -c constraints.txt -e .
& $py -m pip install -c constraints.txt pyinstaller==6.22.3
if ($LASTEXITCODE) { throw "pip failed" }

Set-Location packaging
& $py make_icons.py build\icons
$env:STICKER_ASSISTANT_VARIANT = $Variant
& $py -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller sticker-assistant.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }

# The package's own test: the built console exe opens the window offscreen, imports the demo, suggests.
$env:QT_QPA_PLATFORM = "offscreen"
$t = Measure-Command { & dist\sticker-assistant\sticker-assistant-cli.exe --selftest | Out-Host }
Remove-Item Env:QT_QPA_PLATFORM
if ($LASTEXITCODE) { throw "self-test of the built app failed" }
$size = (Get-ChildItem dist\sticker-assistant -Recurse | Measure-Object Length -Sum).Sum / 1MB
"start-up to self-test exit: {0:N1} s; folder size: {1:N0} MB" -f $t.TotalSeconds, $size

$version = (Select-String -Path ..\assistant\__init__.py -Pattern '__version__ = "(.+)"').Matches[0].Groups[1].Value
Compress-Archive -Force dist\sticker-assistant "dist\sticker-assistant-$version-windows-x64.zip"
"dist\sticker-assistant-$version-windows-x64.zip"
# Optional installer (Start-menu shortcut, uninstaller): iscc windows\installer.iss (Inno Setup 6).
