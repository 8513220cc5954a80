; Inno Setup 6 script: a per-user installer for the one-folder build (no admin rights needed).
;   iscc /DVersion=0.1.0 packaging\windows\installer.iss     (after build.ps1)
#ifndef Version
  #define Version "0.1.0"
#endif

[Setup]
AppId={{6C0E4F7B-4B8E-4C1B-9E57-5A7C2D0F3A11}
AppName=Sticker Assistant
AppVersion={#Version}
AppPublisher=The Sticker Assistant developers
DefaultDirName={localappdata}\Programs\Sticker Assistant
DefaultGroupName=Sticker Assistant
PrivilegesRequired=lowest
OutputDir=..\dist
OutputBaseFilename=sticker-assistant-{#Version}-windows-x64-setup
SetupIconFile=..\build\icons\sticker-assistant.ico
Compression=lzma2/max
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "..\dist\sticker-assistant\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\Sticker Assistant"; Filename: "{app}\sticker-assistant.exe"
Name: "{userdesktop}\Sticker Assistant"; Filename: "{app}\sticker-assistant.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\sticker-assistant.exe"; Description: "Start Sticker Assistant"; Flags: nowait postinstall skipifsilent
